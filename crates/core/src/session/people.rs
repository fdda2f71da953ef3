//! Contacts, keys, requests and blocks: the [`Session`] methods, served by the inbound task
//! (it owns the people file and judges every message with it).

use serde::Serialize;
use tokio::sync::oneshot;

use super::handle::Session;
use super::inbound::Inbound;
use super::router::Source;
use crate::error::{Error, Result};
use crate::identity::{self, KeyStorage};
use crate::trust::{Person, Standing};
use crate::username::Username;
use crate::wire::ChatMessage;

/// What the handle asks of the inbound task about people.
#[derive(Debug)]
pub(crate) enum Command {
    /// We wrote to `user`: a contact now.
    Contact(Username),
    /// Accept (contact) or block a user, or forget a block (back to a request).
    SetStanding {
        user: Username,
        standing: Standing,
        done: oneshot::Sender<()>,
    },
    /// Mark the pinned key of `user` as compared (or not).
    Verify {
        user: Username,
        verified: bool,
        /// The key the user compared: nothing happens if another is pinned now.
        key: Option<String>,
        done: oneshot::Sender<bool>,
    },
    /// Trust the new key `user` signs with.
    AcceptKey {
        user: Username,
        /// The new key the user looked at: nothing happens if another was seen since.
        key: Option<String>,
        done: oneshot::Sender<bool>,
    },
    /// Pin `key` (their published key) for `user` unless a key is pinned.
    Pin {
        user: Username,
        key: String,
        done: oneshot::Sender<()>,
    },
    /// What we know of `user`.
    Get {
        user: Username,
        done: oneshot::Sender<Option<Person>>,
    },
    /// Judge history messages as live ones are (blocked senders' are left out).
    Judge {
        messages: Vec<(Option<Source>, ChatMessage)>,
        done: oneshot::Sender<Vec<ChatMessage>>,
    },
}

/// What the contact panel shows about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Who.
    pub user: String,
    /// Contact, request or blocked.
    pub standing: Standing,
    /// The key pinned for them (first seen, or accepted), base64.
    pub key: Option<String>,
    /// The key they publish in Redis now (may differ from `key`: anyone can write it).
    pub published_key: Option<String>,
    /// The user compared safety numbers for `key`.
    pub verified: bool,
    /// A different key seen signing as them, not trusted yet.
    pub new_key: Option<String>,
    /// 60 digits in groups of five, the same on both sides; `None` until a key is known.
    pub safety_number: Option<String>,
    /// Our public key.
    pub my_key: String,
}

impl super::inbound::InboundTask {
    pub(crate) fn people_command(&mut self, command: Command) {
        let people = &mut self.judge.people;
        match command {
            Command::Contact(user) => self.judge.contact(&user),
            Command::SetStanding {
                user,
                standing,
                done,
            } => {
                if standing == Standing::Contact {
                    self.judge.contact(&user);
                } else {
                    people.set_standing(user.as_str(), standing);
                }
                let _ = done.send(());
            }
            Command::Verify {
                user,
                verified,
                key,
                done,
            } => {
                let _ = done.send(people.set_verified(user.as_str(), verified, key.as_deref()));
            }
            Command::AcceptKey { user, key, done } => {
                let _ = done.send(people.accept_new_key(user.as_str(), key.as_deref()));
            }
            Command::Pin { user, key, done } => {
                people.pin_if_unknown(user.as_str(), &key);
                let _ = done.send(());
            }
            Command::Get { user, done } => {
                let _ = done.send(people.get(user.as_str()).cloned());
            }
            Command::Judge { messages, done } => {
                let mut out = Vec::with_capacity(messages.len());
                for (source, mut m) in messages {
                    if let Some(source) = source {
                        if let super::verify::Verdict::Blocked = self.judge.chat(&source, &mut m) {
                            continue;
                        }
                    } else {
                        m.mine = false;
                    }
                    out.push(m);
                }
                let _ = done.send(out);
            }
        }
        // Contact, key and block changes are saved at once, not with the next batch.
        self.judge.people.save();
    }
}

impl Session {
    async fn people<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (done, answer) = oneshot::channel();
        self.inbound_sender()
            .send(Inbound::People(make(done)))
            .map_err(|_| Error::NotConnected)?;
        answer.await.map_err(|_| Error::NotConnected)
    }

    pub(crate) fn note_contact(&self, user: &Username) {
        let _ = self
            .inbound_sender()
            .send(Inbound::People(Command::Contact(user.clone())));
    }

    pub(crate) async fn judge_page(
        &self,
        messages: Vec<(Option<Source>, ChatMessage)>,
    ) -> Result<Vec<ChatMessage>> {
        self.people(|done| Command::Judge { messages, done }).await
    }

    /// Our public identity key (base64).
    pub fn identity_key(&self) -> &str {
        self.setup_ref().identity.public_key()
    }

    /// Our private identity key as text, to move it to another device of ours. Secret: show
    /// it only when the user asks, never log it.
    pub fn export_identity(&self) -> zeroize::Zeroizing<String> {
        self.setup_ref().identity.export()
    }

    /// Where our private key is kept (keychain, a file only we can read, or memory).
    pub fn key_storage(&self) -> &KeyStorage {
        &self.setup_ref().key_storage
    }

    /// What we know of `user`: standing, pinned and published keys, the safety number.
    ///
    /// # Errors
    /// [`Error::InvalidUsername`]; [`Error::NotConnected`] after shutdown. The published
    /// key is `None` when Redis cannot be asked.
    pub async fn contact(&self, user: &str) -> Result<Contact> {
        let user = Username::parse(user).map_err(Error::InvalidUsername)?;
        let person = self
            .people(|done| Command::Get {
                user: user.clone(),
                done,
            })
            .await?
            .unwrap_or_default();
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(self.setup_ref().keys.identity(&user));
        let published: Option<String> = self
            .bounded::<(Option<String>,)>(&pipe)
            .await
            .ok()
            .and_then(|(k,)| k)
            .filter(|k| identity::is_public_key(k));
        let my_key = self.identity_key().to_string();
        let me = self.user().as_str();
        let shown_key = person.key.clone().or_else(|| published.clone());
        let safety_number = shown_key.as_deref().map(|key| {
            identity::grouped(&identity::safety_number(me, &my_key, user.as_str(), key))
        });
        Ok(Contact {
            user: user.as_str().to_string(),
            standing: person.standing,
            key: person.key,
            published_key: published,
            verified: person.verified,
            new_key: person.new_key,
            safety_number,
            my_key,
        })
    }

    /// Marks `user`'s pinned key as compared in person (`verified`) or not. `key`: the key
    /// whose safety number the user compared (the contact panel's); nothing is marked if
    /// another key is pinned by now. With no key pinned yet, the key they publish is pinned
    /// first.
    ///
    /// # Errors
    /// [`Error::InvalidUsername`]; [`Error::InvalidMessage`] when no key is known for them,
    /// or the key changed since the user looked.
    pub async fn mark_verified(
        &self,
        user: &str,
        verified: bool,
        key: Option<&str>,
    ) -> Result<Contact> {
        let contact = self.contact(user).await?;
        let name = Username::parse(user).map_err(Error::InvalidUsername)?;
        if contact.key.is_none() {
            let Some(published) = contact.published_key.clone() else {
                return Err(Error::InvalidMessage(format!(
                    "no key is known for {name} yet: wait for a message from them"
                )));
            };
            self.people(|done| Command::Pin {
                user: name.clone(),
                key: published,
                done,
            })
            .await?;
        }
        let ok = self
            .people(|done| Command::Verify {
                user: name.clone(),
                verified,
                key: key.map(str::to_string),
                done,
            })
            .await?;
        if !ok {
            return Err(Error::InvalidMessage(format!(
                "the key of {name} is not the one you compared (it changed, or none is known): look at the safety number again"
            )));
        }
        self.contact(user).await
    }

    /// Trusts the new key `user` signs with (after a reinstall, say); it is not verified.
    /// `key`: the new key the user looked at; nothing changes if another was seen since.
    ///
    /// # Errors
    /// [`Error::InvalidUsername`]; [`Error::InvalidMessage`] when no new key was seen, or
    /// another one than `key`.
    pub async fn accept_new_key(&self, user: &str, key: Option<&str>) -> Result<Contact> {
        let name = Username::parse(user).map_err(Error::InvalidUsername)?;
        let ok = self
            .people(|done| Command::AcceptKey {
                user: name.clone(),
                key: key.map(str::to_string),
                done,
            })
            .await?;
        if !ok {
            return Err(Error::InvalidMessage(format!(
                "{name} has not signed with that new key (none, or another one since): look again"
            )));
        }
        self.contact(user).await
    }

    /// Accepts `user` (a request becomes a contact), blocks them (their messages are dropped
    /// and counted), or with [`Standing::Request`] lifts a block.
    ///
    /// # Errors
    /// [`Error::InvalidUsername`]; [`Error::NotConnected`] after shutdown.
    pub async fn set_standing(&self, user: &str, standing: Standing) -> Result<()> {
        let user = Username::parse(user).map_err(Error::InvalidUsername)?;
        self.people(|done| Command::SetStanding {
            user,
            standing,
            done,
        })
        .await
    }
}
