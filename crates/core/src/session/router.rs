//! Where a payload belongs: channels and stream keys mapped to [`Source`]s, and a chat
//! message's conversation and mention flag decided from its source. Pure: the inbound path
//! and history pages use it alike.

use std::collections::HashMap;

use super::config::Setup;
use crate::conversation::{ConversationId, RoomName};
use crate::username::Username;
use crate::wire::ChatMessage;

/// Where a payload came from, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Our inbox channel or stream: direct messages to us.
    Inbox { stored: bool },
    /// Our sent stream: direct messages we sent (maybe from another device).
    Sent,
    /// Our signal channel.
    Signal,
    /// A room's channel or stream.
    Room { room: RoomName, stored: bool },
    /// The presence hint channel.
    Presence,
    /// A raw channel.
    Channel(String),
}

/// Maps channels and stream keys to [`Source`]s; knows who we are. Pure: also used to
/// classify history pages.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    me: Username,
    inbox: String,
    signal: String,
    presence: String,
    inbox_stream: String,
    sent_stream: String,
    rooms_by_name: HashMap<String, RoomName>,
}

impl Router {
    pub fn new(setup: &Setup, joined: &[ConversationId]) -> Router {
        let keys = &setup.keys;
        let mut rooms_by_name = HashMap::new();
        for room in joined.iter().filter_map(ConversationId::room) {
            rooms_by_name.insert(keys.room_channel(room), room.clone());
            rooms_by_name.insert(keys.room_stream(room), room.clone());
        }
        Router {
            me: setup.user.clone(),
            inbox: keys.inbox_channel(&setup.user),
            signal: keys.signal_channel(&setup.user),
            presence: keys.presence_channel(),
            inbox_stream: keys.inbox_stream(&setup.user),
            sent_stream: keys.sent_stream(&setup.user),
            rooms_by_name,
        }
    }

    pub fn live(&self, channel: &str) -> Source {
        if channel == self.inbox {
            Source::Inbox { stored: false }
        } else if channel == self.signal {
            Source::Signal
        } else if channel == self.presence {
            Source::Presence
        } else if let Some(room) = self.rooms_by_name.get(channel) {
            Source::Room {
                room: room.clone(),
                stored: false,
            }
        } else {
            Source::Channel(channel.to_string())
        }
    }

    pub fn stored(&self, key: &str) -> Option<Source> {
        if key == self.inbox_stream {
            Some(Source::Inbox { stored: true })
        } else if key == self.sent_stream {
            Some(Source::Sent)
        } else {
            self.rooms_by_name.get(key).map(|room| Source::Room {
                room: room.clone(),
                stored: true,
            })
        }
    }

    pub fn is_me(&self, name: &str) -> bool {
        // Most names arrive normalised: compare without allocating first.
        name == self.me.as_str() || Username::parse(name).is_ok_and(|n| n == self.me)
    }

    /// Sets a chat message's conversation, `mine` and `mentions_me` from its source.
    /// `None`: it does not belong anywhere we show (e.g. a sent-stream entry without a
    /// valid recipient).
    pub fn route_chat(&self, source: &Source, m: &mut ChatMessage) -> Option<()> {
        m.mine = self.is_me(&m.sender);
        m.conversation = match source {
            // A sender name we cannot address (the original client allows any text) is
            // shown in a conversation of the inbox channel, never as ourselves.
            Source::Inbox { .. } => match Username::parse(&m.sender) {
                Ok(sender) => ConversationId::Direct(sender),
                Err(_) => ConversationId::Channel(m.channel.clone()),
            },
            Source::Sent => {
                let to = Username::parse(m.to.as_deref()?).ok()?;
                m.mine = true;
                ConversationId::Direct(to)
            }
            Source::Room { room, .. } => {
                m.room = Some(room.as_str().to_string());
                m.mentions_me = !m.mine && mentions(&m.content, self.me.as_str());
                ConversationId::Room(room.clone())
            }
            Source::Channel(c) => ConversationId::Channel(c.clone()),
            Source::Signal | Source::Presence => return None,
        };
        Some(())
    }

    /// Routes a history message read from stream `key`.
    pub fn route_stored(&self, key: &str, m: &mut ChatMessage) {
        if let Some(source) = self.stored(key) {
            let _ = self.route_chat(&source, m);
        }
    }
}

/// `@name` appears in `text` as a word (not inside an address like `x@name.org`).
pub(crate) fn mentions(text: &str, name: &str) -> bool {
    let needle = format!("@{name}");
    let lower = text.to_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&needle) {
        let start = from + i;
        let end = start + needle.len();
        let before_ok = lower[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+')))
            || lower[end..].starts_with(". ")
            || lower[end..] == *".";
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words() {
        assert!(mentions("@bob look", "bob"));
        assert!(mentions("hey @Bob, look", "bob"));
        assert!(mentions("thanks @bob.", "bob"));
        assert!(!mentions("@bobby look", "bob"));
        assert!(!mentions("mail x@bob", "bob"));
        assert!(!mentions("no mention", "bob"));
    }
}
