//! Authentication on the inbound path, before de-duplication: signatures against pinned
//! keys, our own messages told from claims to be us, honest names, lookalike names,
//! requests from strangers and blocked senders.
//!
//! A message that is not authentic never takes the id of a real one: its id gets a suffix
//! from a hash of what it says, so a forged copy can never hide the real message.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::inbound::Source;
use crate::identity::Claim;
use crate::trust::{People, Standing, Trust};
use crate::username::Username;
use crate::wire::{ChatMessage, Membership, Signed, claim_target};

/// Names remembered for lookalike checks.
const MAX_SKELETONS: usize = 10_000;

/// What the inbound path does with a judged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Show it; `announce`: the sender's key changed (say so once in the conversation).
    Show { announce_key_change: bool },
    /// The sender is blocked: drop it and count.
    Blocked,
}

/// The judge: owns the people file.
pub(crate) struct Judge {
    me: Username,
    my_key: String,
    pub people: People,
    /// (user, key) key changes already announced.
    announced: HashSet<(String, String)>,
    /// Skeleton → the first name seen with it (contacts first).
    skeletons: HashMap<String, String>,
}

impl Judge {
    pub fn new(me: Username, my_key: String, people: People) -> Judge {
        let mut skeletons = HashMap::new();
        for (user, person) in people.all() {
            if person.standing == Standing::Contact
                && let Ok(name) = Username::parse(user)
            {
                skeletons.entry(name.skeleton()).or_insert(user.clone());
            }
        }
        Judge {
            me,
            my_key,
            people,
            announced: HashSet::new(),
            skeletons,
        }
    }

    /// Judges a chat message routed from `source` (its `mine` and conversation are set).
    pub fn chat(&mut self, source: &Source, m: &mut ChatMessage) -> Verdict {
        let sender = m.sender.trim().to_lowercase();
        let name = Username::parse(&sender);
        if let Err(e) = &name {
            m.sender_issue = Some(e.0.clone());
        }
        let target = match source {
            // Whatever the payload says, what reached our inbox was sent to us, and what
            // is in a room's stream or channel to that room: a copy re-published elsewhere
            // does not verify.
            Source::Inbox { .. } => format!("@{}", self.me),
            Source::Room { room, .. } => format!("#{}", room.as_str()),
            _ => claim_target(m.to.as_deref(), m.room.as_deref()),
        };
        let claim = match (&m.signature, m.sent_at_micros()) {
            (Some(signed), Some(micros)) => Some((signed, micros)),
            (Some(signed), None) => Some((signed, i64::MIN)),
            (None, _) => None,
        };
        let trust = self.judge(&sender, "chat", &target, &m.content, &m.id, claim);
        m.trust = trust;
        let key_is_mine = m.signature.as_ref().is_some_and(|s| s.key == self.my_key);
        m.mine = sender == self.me.as_str() && trust == Trust::Signed && key_is_mine;
        if !trust.is_authentic() {
            m.id = distinct_id(&m.id, &sender, &m.content, m.signature.as_ref());
        }
        let Ok(name) = name else {
            // A name that is not honest is nobody's contact: a request, never a conversation
            // of someone we know.
            m.request = matches!(source, Source::Inbox { .. });
            return Verdict::Show {
                announce_key_change: false,
            };
        };
        if m.mine {
            // Our own sent stream (another device of ours wrote to them): a contact.
            if let (Source::Sent, Some(Ok(to))) = (source, m.to.as_deref().map(Username::parse)) {
                self.contact(&to);
            }
        } else if matches!(source, Source::Inbox { .. }) && name != self.me {
            match self.people.standing(name.as_str()) {
                Standing::Blocked => return Verdict::Blocked,
                Standing::Request => m.request = true,
                Standing::Contact => {}
            }
            m.lookalike = self.lookalike(&name);
        }
        Verdict::Show {
            announce_key_change: trust == Trust::KeyChanged && self.first_announcement(&sender, m),
        }
    }

    /// Judges a membership change in `room` (checked by the caller).
    pub fn membership(&mut self, m: &mut Membership) {
        let sender = m.user.trim().to_lowercase();
        let target = format!("#{}", m.room.trim().to_lowercase());
        let claim = m
            .signature
            .as_ref()
            .map(|s| (s, m.sent_at_micros.unwrap_or(i64::MIN)));
        let id = m.id.clone();
        m.trust = self.judge(&sender, "member", &target, m.action.as_str(), &id, claim);
        if !m.trust.is_authentic() {
            m.id = distinct_id(&m.id, &sender, m.action.as_str(), m.signature.as_ref());
        }
    }

    fn judge(
        &mut self,
        sender: &str,
        kind: &str,
        target: &str,
        content: &str,
        id: &str,
        signed: Option<(&Signed, i64)>,
    ) -> Trust {
        let Some((signed, micros)) = signed else {
            return Trust::Unsigned;
        };
        let claim = Claim {
            kind,
            sender,
            target,
            content,
            id,
            sent_at_micros: micros,
            key: &signed.key,
        };
        if sender == self.me.as_str() {
            // Never pinned: our key is known. Someone else's valid key claiming to be us is
            // a key change, never "(you)".
            return match (claim.verify(&signed.sig), signed.key == self.my_key) {
                (false, _) => Trust::Invalid,
                (true, true) => Trust::Signed,
                (true, false) => Trust::KeyChanged,
            };
        }
        self.people.judge(Some((&claim, &signed.sig)))
    }

    fn first_announcement(&mut self, sender: &str, m: &ChatMessage) -> bool {
        let key = m
            .signature
            .as_ref()
            .map(|s| s.key.clone())
            .unwrap_or_default();
        if self.announced.len() > 1_000 {
            self.announced.clear();
        }
        self.announced.insert((sender.to_string(), key))
    }

    /// A contact with another name that looks like `name`.
    fn lookalike(&mut self, name: &Username) -> Option<String> {
        let skeleton = name.skeleton();
        match self.skeletons.get(&skeleton) {
            Some(other) if other != name.as_str() => Some(other.clone()),
            Some(_) => None,
            None => {
                if self.skeletons.len() < MAX_SKELETONS {
                    self.skeletons.insert(skeleton, name.as_str().to_string());
                }
                None
            }
        }
    }

    /// `user` is a contact now (we wrote to them, or accepted them).
    pub fn contact(&mut self, user: &Username) {
        if self.people.standing(user.as_str()) != Standing::Contact {
            self.people.set_standing(user.as_str(), Standing::Contact);
        }
        // A contact's name takes its skeleton: a later lookalike is flagged against it.
        self.skeletons
            .insert(user.skeleton(), user.as_str().to_string());
    }
}

/// An id no authentic message has: `<claimed id>~<hash of what it says>`.
fn distinct_id(id: &str, sender: &str, content: &str, signed: Option<&Signed>) -> String {
    let mut hash = Sha256::new()
        .chain_update(sender.as_bytes())
        .chain_update([0])
        .chain_update(content.as_bytes());
    if let Some(s) = signed {
        hash = hash
            .chain_update([0])
            .chain_update(s.key.as_bytes())
            .chain_update(s.sig.as_bytes());
    }
    let digest = hash.finalize();
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let id: String = id.chars().take(64).collect();
    format!("{id}~{short}")
}
