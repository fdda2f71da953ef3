//! Authentication on the inbound path, before de-duplication: signatures against pinned
//! keys, our own messages told from claims to be us, honest names, lookalike names,
//! requests from strangers and blocked senders.
//!
//! Ids are judged too ([`shown_id`]): an authentic message of someone else's is shown as
//! `<sender>@<id>`, anything not authentic as `<id>~<hash>`, so neither a forged copy nor a
//! message signed by another name can ever take, and hide, a real message's id.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::router::Source;
use crate::identity::Claim;
use crate::trust::{People, Standing, Trust};
use crate::username::Username;
use crate::wire::{ChatMessage, Membership, Signed};

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
        // The claim's target comes from where the payload arrived, never from what it says:
        // what reached our inbox was sent to us, what is in a room's stream or channel to
        // that room, what is in our sent stream to the one person it names (never a room).
        // A copy re-published elsewhere does not verify. Raw channels carry nothing signed.
        let target = match source {
            Source::Inbox { .. } => Some(format!("@{}", self.me)),
            Source::Room { room, .. } => Some(format!("#{}", room.as_str())),
            Source::Sent => match (&m.room, m.to.as_deref().map(Username::parse)) {
                (None, Some(Ok(to))) => Some(format!("@{to}")),
                _ => None,
            },
            _ => None,
        };
        let claim = match (&m.signature, m.sent_at_micros()) {
            (Some(signed), Some(micros)) => Some((signed, micros)),
            (Some(signed), None) => Some((signed, i64::MIN)),
            (None, _) => None,
        };
        let trust = match &target {
            Some(target) => self.judge(&sender, "chat", target, &m.content, &m.id, claim),
            None if m.signature.is_some() => Trust::Invalid,
            None => Trust::Unsigned,
        };
        m.trust = trust;
        let key_is_mine = m.signature.as_ref().is_some_and(|s| s.key == self.my_key);
        m.mine = sender == self.me.as_str() && trust == Trust::Signed && key_is_mine;
        m.id = shown_id(&Shown {
            id: &m.id,
            sender: &sender,
            target: target.as_deref().unwrap_or(""),
            content: &m.content,
            sent_at: m.sent_at.as_deref().unwrap_or(""),
            signature: m.signature.as_ref(),
            authentic: trust.is_authentic() && name.is_ok(),
            mine: m.mine,
        });
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
        let sent_at = m.sent_at_micros.map(|t| t.to_string()).unwrap_or_default();
        m.id = shown_id(&Shown {
            id: &id,
            sender: &sender,
            target: &target,
            content: m.action.as_str(),
            sent_at: &sent_at,
            signature: m.signature.as_ref(),
            authentic: m.trust.is_authentic() && Username::parse(&sender).is_ok(),
            mine: false,
        });
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

/// What a message's shown id is made of.
struct Shown<'a> {
    id: &'a str,
    sender: &'a str,
    target: &'a str,
    content: &'a str,
    sent_at: &'a str,
    signature: Option<&'a Signed>,
    authentic: bool,
    mine: bool,
}

/// The id a message is shown (and de-duplicated) under. Ours keep theirs (the outbox knows
/// them). An authentic message of someone else's is `<sender>@<id>`: a name cannot contain
/// `@`, so another sender can never take its id, whatever it signs. Anything else is
/// `<id>~<hash of everything it says>`, an id no authentic message has.
fn shown_id(m: &Shown<'_>) -> String {
    let id: String = m.id.chars().take(64).collect();
    if m.mine {
        return id;
    }
    if m.authentic {
        return format!("{}@{id}", m.sender);
    }
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(m.sender.as_bytes());
    field(m.target.as_bytes());
    field(m.content.as_bytes());
    field(m.sent_at.as_bytes());
    if let Some(s) = m.signature {
        field(s.key.as_bytes());
        field(s.sig.as_bytes());
    }
    let digest = hash.finalize();
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{id}~{short}")
}
