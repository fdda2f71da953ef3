//! Whom we believe: the key pinned per sender (trust on first use), who is a contact, who
//! asks to be one (Requests), who is blocked, and how a message's signature is judged.
//!
//! Kept per server + user in `people.json` (no secrets: public keys and names). Bounded:
//! strangers' pins beyond [`MAX_STRANGERS`] are forgotten oldest first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::identity::Claim;

/// Strangers (neither contacts nor blocked) remembered, with their pinned key. Beyond it the
/// newest are forgotten first, so a flood of new names cannot evict old pins.
pub const MAX_STRANGERS: usize = 5_000;

/// How far a message is believed to come from its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Trust {
    /// Signed by the pinned key, and the user compared safety numbers.
    Verified,
    /// Signed by the pinned key (or the first key seen of this sender).
    Signed,
    /// No signature: the original client, `redis-cli`, an older Redchat.
    #[default]
    Unsigned,
    /// A signature that does not verify (forged, altered, re-published elsewhere).
    Invalid,
    /// A valid signature by a key other than the one pinned for this sender.
    KeyChanged,
}

impl Trust {
    /// The camelCase name (`listen --json`'s `trust`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Verified => "verified",
            Trust::Signed => "signed",
            Trust::Unsigned => "unsigned",
            Trust::Invalid => "invalid",
            Trust::KeyChanged => "keyChanged",
        }
    }

    /// The sender provably wrote it (with the key we know for them).
    pub fn is_authentic(self) -> bool {
        matches!(self, Trust::Verified | Trust::Signed)
    }
}

/// Where a person stands with us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Standing {
    /// Wrote to us first; not answered or accepted yet.
    #[default]
    Request,
    /// We wrote to them, or accepted them.
    Contact,
    /// Their messages are dropped (and counted).
    Blocked,
}

/// What we know of one person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// The pinned public key (base64).
    #[serde(default)]
    pub key: Option<String>,
    /// The user compared safety numbers for `key`.
    #[serde(default)]
    pub verified: bool,
    /// A different key seen signing as them (not trusted until accepted).
    #[serde(default)]
    pub new_key: Option<String>,
    #[serde(default)]
    pub standing: Standing,
    /// When we first heard of them (ms), for forgetting strangers oldest first.
    #[serde(default)]
    pub since: i64,
}

/// The people file.
#[derive(Debug, Default)]
pub struct People {
    path: Option<PathBuf>,
    people: BTreeMap<String, Person>,
    dirty: bool,
}

#[derive(Serialize, Deserialize)]
struct File {
    people: BTreeMap<String, Person>,
}

impl People {
    /// Loads `path` (a missing or damaged file is an empty list, never a failure).
    pub fn open(path: Option<PathBuf>) -> People {
        let people = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<File>(&bytes).ok())
            .map(|f| f.people)
            .unwrap_or_default();
        People {
            path,
            people,
            dirty: false,
        }
    }

    /// What we know of `user`.
    pub fn get(&self, user: &str) -> Option<&Person> {
        self.people.get(user)
    }

    fn entry(&mut self, user: &str) -> &mut Person {
        if !self.people.contains_key(user) {
            self.forget_strangers();
            self.people.insert(
                user.to_string(),
                Person {
                    since: crate::wire::now_ms(),
                    ..Person::default()
                },
            );
        }
        self.dirty = true;
        self.people.get_mut(user).expect("inserted above")
    }

    fn forget_strangers(&mut self) {
        let strangers = self
            .people
            .values()
            .filter(|p| p.standing == Standing::Request)
            .count();
        if strangers < MAX_STRANGERS {
            return;
        }
        // The newest stranger goes first: a flood of new names pushes out its own entries,
        // never the keys pinned long ago; a verified key is never forgotten.
        if let Some(newest) = self
            .people
            .iter()
            .filter(|(_, p)| p.standing == Standing::Request && !p.verified)
            .max_by_key(|(_, p)| p.since)
            .map(|(u, _)| u.clone())
        {
            self.people.remove(&newest);
        }
    }

    /// Where `user` stands (strangers are requests).
    pub fn standing(&self, user: &str) -> Standing {
        self.people
            .get(user)
            .map_or(Standing::Request, |p| p.standing)
    }

    /// Sets where `user` stands.
    pub fn set_standing(&mut self, user: &str, standing: Standing) {
        if self.standing(user) != standing || !self.people.contains_key(user) {
            self.entry(user).standing = standing;
        }
    }

    /// Judges a message `sender` signed with `key` (`signature` over `claim`, `None`:
    /// unsigned). Pins the key of a sender seen the first time; remembers a different key
    /// as `new_key` (never trusted by itself).
    pub fn judge(&mut self, claim: Option<(&Claim<'_>, &str)>) -> Trust {
        let Some((claim, signature)) = claim else {
            return Trust::Unsigned;
        };
        if !claim.verify(signature) {
            return Trust::Invalid;
        }
        let person = self.people.get(claim.sender);
        match person.and_then(|p| p.key.as_deref()) {
            Some(pinned) if pinned == claim.key => {
                if person.is_some_and(|p| p.verified) {
                    Trust::Verified
                } else {
                    Trust::Signed
                }
            }
            Some(_) => {
                if person.and_then(|p| p.new_key.as_deref()) != Some(claim.key) {
                    self.entry(claim.sender).new_key = Some(claim.key.to_string());
                }
                Trust::KeyChanged
            }
            None => {
                self.entry(claim.sender).key = Some(claim.key.to_string());
                Trust::Signed
            }
        }
    }

    /// Marks `user`'s pinned key as compared (`false`: no longer). With `expected`, only if
    /// that is still the pinned key (the one the user compared), so a key swapped in
    /// meanwhile is never marked.
    pub fn set_verified(&mut self, user: &str, verified: bool, expected: Option<&str>) -> bool {
        let Some(p) = self.people.get(user) else {
            return false;
        };
        match (p.key.as_deref(), expected) {
            (None, _) => return false,
            (Some(pinned), Some(expected)) if pinned != expected => return false,
            _ => {}
        }
        self.entry(user).verified = verified;
        true
    }

    /// Trusts the new key `user` signed with; it is no longer verified. With `expected`,
    /// only if that is still the new key (the one the user looked at): another key seen
    /// meanwhile is never trusted by this.
    pub fn accept_new_key(&mut self, user: &str, expected: Option<&str>) -> bool {
        let Some(new) = self.people.get(user).and_then(|p| p.new_key.clone()) else {
            return false;
        };
        if expected.is_some_and(|e| e != new) {
            return false;
        }
        let p = self.entry(user);
        p.key = Some(new);
        p.new_key = None;
        p.verified = false;
        true
    }

    /// Pins `key` for `user` if nothing is pinned (a key read from their published identity).
    pub fn pin_if_unknown(&mut self, user: &str, key: &str) {
        if self.people.get(user).and_then(|p| p.key.as_ref()).is_none() {
            self.entry(user).key = Some(key.to_string());
        }
    }

    /// Writes the file if anything changed (unique temporary file, 0600, rename).
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let Some(path) = &self.path else { return };
        let file = File {
            people: self.people.clone(),
        };
        let bytes = match serde_json::to_vec(&file) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("cannot encode the people file: {e}");
                return;
            }
        };
        if let Err(e) = crate::identity::write_private(path, &bytes) {
            tracing::warn!("cannot save {}: {e}", path.display());
        }
    }

    /// Whether something changed since the last save.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Everyone known, for the contact list.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Person)> {
        self.people.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn signed<'a>(id: &'a Identity, sender: &'a str) -> (Claim<'a>, String) {
        let claim = Claim {
            kind: "chat",
            sender,
            target: "@me",
            content: "hi",
            id: "1",
            sent_at_micros: 1,
            key: id.public_key(),
        };
        let sig = id.sign(&claim);
        (claim, sig)
    }

    #[test]
    fn the_first_key_is_pinned_and_a_second_is_a_change() {
        let mut people = People::open(None);
        let (bob, mallory) = (Identity::generate(), Identity::generate());
        let (c, s) = signed(&bob, "bob");
        assert_eq!(people.judge(Some((&c, &s))), Trust::Signed);
        assert_eq!(people.judge(Some((&c, &s))), Trust::Signed);
        let (c2, s2) = signed(&mallory, "bob");
        assert_eq!(people.judge(Some((&c2, &s2))), Trust::KeyChanged);
        assert_eq!(people.judge(Some((&c, "AAAA"))), Trust::Invalid);
        assert_eq!(people.judge(None), Trust::Unsigned);
        assert!(!people.set_verified("bob", true, Some("another key")));
        assert!(people.set_verified("bob", true, Some(bob.public_key())));
        assert_eq!(people.judge(Some((&c, &s))), Trust::Verified);
        assert!(!people.accept_new_key("bob", Some(bob.public_key())));
        assert!(people.accept_new_key("bob", Some(mallory.public_key())));
        assert_eq!(people.judge(Some((&c2, &s2))), Trust::Signed);
        assert_eq!(people.judge(Some((&c, &s))), Trust::KeyChanged);
    }

    #[test]
    fn a_flood_of_new_names_cannot_evict_old_pins() {
        let mut people = People::open(None);
        people.set_standing("friend", Standing::Contact);
        let bob = Identity::generate();
        let (c, s) = signed(&bob, "bob");
        assert_eq!(people.judge(Some((&c, &s))), Trust::Signed);
        for i in 0..MAX_STRANGERS + 50 {
            people.set_standing(&format!("stranger{i}"), Standing::Request);
            people
                .people
                .get_mut(&format!("stranger{i}"))
                .unwrap()
                .since += 1 + i as i64;
        }
        assert!(people.all().count() <= MAX_STRANGERS + 1);
        assert_eq!(people.standing("friend"), Standing::Contact);
        // bob was pinned before the flood: still pinned, so mallory cannot be "bob".
        let mallory = Identity::generate();
        let (c2, s2) = signed(&mallory, "bob");
        assert_eq!(people.judge(Some((&c2, &s2))), Trust::KeyChanged);
    }
}
