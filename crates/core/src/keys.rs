//! Every Redis key and channel name Redchat uses, in one place.
//!
//! Keys are hash-tagged so that each user's keys share one cluster slot (`{u:alice}`) and each
//! room's keys share another (`{r:team}`); no transaction or multi-key command spans two tags.
//! The direct-message channel stays the bare (namespaced) username: that is the original
//! client's inbox, and we stay wire-compatible with it.
//!
//! | name | type | what |
//! |---|---|---|
//! | `<ns><user>` | channel | a user's inbox (original client) |
//! | `<ns>redchat:{u:<user>}:signal` | channel | typing, read positions, membership changes of this user's own devices |
//! | `<ns>redchat:{u:<user>}:inbox` | stream | direct messages to the user (durable) |
//! | `<ns>redchat:{u:<user>}:sent` | stream | direct messages the user sent (history, other devices) |
//! | `<ns>redchat:{u:<user>}:rooms` | hash | rooms and channels the user is in → stream id at joining |
//! | `<ns>redchat:{u:<user>}:read` | sorted set | conversation → read position (ms), only raised (`ZADD GT`) |
//! | `<ns>redchat:{u:<user>}:devices` | sorted set | device id → presence expiry (ms); the key has a TTL |
//! | `<ns>redchat:{r:<room>}:live` | channel | a room's live messages, typing, joins and leaves |
//! | `<ns>redchat:{r:<room>}:log` | stream | a room's messages, joins and leaves (durable) |
//! | `<ns>redchat:{r:<room>}:members` | set | a room's members |
//! | `<ns>redchat:presence` | channel | "my presence changed": a hint to look again |
//! | `<ns>redchat:directory` | sorted set | user → when their latest device's presence expires (ms): online while in the future |

use crate::conversation::{ConversationId, RoomName};
use crate::username::{Namespace, Username};

/// Key and channel names under one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    ns: String,
}

impl Keys {
    /// Names under `namespace` (empty: the original client's inboxes).
    pub fn new(namespace: &Namespace) -> Keys {
        Keys {
            ns: namespace.as_str().to_string(),
        }
    }

    fn user(&self, user: &Username, what: &str) -> String {
        format!("{}redchat:{{u:{}}}:{what}", self.ns, user.as_str())
    }

    fn room(&self, room: &RoomName, what: &str) -> String {
        format!("{}redchat:{{r:{}}}:{what}", self.ns, room.as_str())
    }

    /// A user's inbox channel (the original client's).
    pub fn inbox_channel(&self, user: &Username) -> String {
        format!("{}{}", self.ns, user.as_str())
    }

    /// A user's signal channel (typing, read positions, own devices' membership changes).
    pub fn signal_channel(&self, user: &Username) -> String {
        self.user(user, "signal")
    }

    /// A user's inbox stream.
    pub fn inbox_stream(&self, user: &Username) -> String {
        self.user(user, "inbox")
    }

    /// The stream of what a user sent in direct conversations.
    pub fn sent_stream(&self, user: &Username) -> String {
        self.user(user, "sent")
    }

    /// The hash of rooms and channels a user is in.
    pub fn rooms(&self, user: &Username) -> String {
        self.user(user, "rooms")
    }

    /// The sorted set of a user's read positions (score: ms; only raised).
    pub fn read_positions(&self, user: &Username) -> String {
        self.user(user, "read")
    }

    /// The sorted set of a user's online devices.
    pub fn devices(&self, user: &Username) -> String {
        self.user(user, "devices")
    }

    /// A user's published public identity key (a string, base64). Anyone with write access
    /// can change it: receivers pin the first key they see and announce changes.
    pub fn identity(&self, user: &Username) -> String {
        self.user(user, "identity")
    }

    /// A room's live channel.
    pub fn room_channel(&self, room: &RoomName) -> String {
        self.room(room, "live")
    }

    /// A room's stream.
    pub fn room_stream(&self, room: &RoomName) -> String {
        self.room(room, "log")
    }

    /// A room's member set.
    pub fn members(&self, room: &RoomName) -> String {
        self.room(room, "members")
    }

    /// The presence hint channel.
    pub fn presence_channel(&self) -> String {
        format!("{}redchat:presence", self.ns)
    }

    /// The directory of users with a heartbeat.
    pub fn directory(&self) -> String {
        format!("{}redchat:directory", self.ns)
    }

    /// The pub/sub channel a conversation's messages go to, seen from `me`.
    pub fn channel_of(&self, conversation: &ConversationId) -> String {
        match conversation {
            ConversationId::Direct(peer) => self.inbox_channel(peer),
            ConversationId::Room(room) => self.room_channel(room),
            ConversationId::Channel(c) => c.clone(),
        }
    }
}

/// The hash tag of a key (the text between the first `{` and the next `}`), as Redis Cluster
/// computes it; the whole key when there is none.
pub fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_keys_share_one_slot_and_a_rooms_another() {
        let keys = Keys::new(&Namespace::parse("team:").unwrap());
        let bob = Username::parse("bob").unwrap();
        let room = RoomName::parse("#bob").unwrap();
        let user_keys = [
            keys.inbox_stream(&bob),
            keys.sent_stream(&bob),
            keys.rooms(&bob),
            keys.read_positions(&bob),
            keys.devices(&bob),
        ];
        for k in &user_keys {
            assert_eq!(hash_tag(k), "u:bob", "{k}");
            assert!(k.starts_with("team:redchat:"), "{k} is namespaced");
        }
        for k in [keys.room_stream(&room), keys.members(&room)] {
            assert_eq!(
                hash_tag(&k),
                "r:bob",
                "{k}: a room named like a user is apart"
            );
        }
        assert_eq!(
            keys.inbox_channel(&bob),
            "team:bob",
            "the original client's inbox channel"
        );
    }
}
