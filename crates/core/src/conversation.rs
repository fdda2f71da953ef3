//! Conversations: a direct chat with one person, a room, or a raw pub/sub channel.
//!
//! [`ConversationId`] is the one address used end to end: drafts, outbox records, events,
//! history, IPC and the window's model. Its text form is `@bob`, `#team` or `~messages`, so it
//! can key a map in TypeScript and be typed by a person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::username::{Username, UsernameError};

/// Longest raw channel name we join, in bytes.
pub const MAX_CHANNEL_BYTES: usize = 256;

/// A room name: the username rule (trimmed, lowercased, no spaces, no `* ? [ ] \ @ ,`),
/// written `#name`. Rooms are public on the server: anyone may join.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

impl RoomName {
    /// Parses `team` or `#team`.
    ///
    /// # Errors
    /// [`Error::InvalidRoom`] saying which rule the name breaks.
    pub fn parse(raw: &str) -> Result<RoomName> {
        let trimmed = raw.trim();
        let bare = trimmed.strip_prefix('#').unwrap_or(trimmed);
        if bare.starts_with('#') {
            return Err(Error::InvalidRoom(
                "a room name starts with a single #, e.g. #team".into(),
            ));
        }
        match Username::parse(bare) {
            Ok(name) => Ok(RoomName(name.as_str().to_string())),
            Err(UsernameError(why)) => Err(Error::InvalidRoom(
                why.replace("a username", "a room name")
                    .replace("usernames", "room names"),
            )),
        }
    }

    /// The name without `#`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a message belongs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationId {
    /// A direct conversation with this person (their inbox channel, the original client's).
    Direct(Username),
    /// A room: one pub/sub channel and one stream shared by its members.
    Room(RoomName),
    /// A raw pub/sub channel with plain-text payloads, e.g. the original console client's
    /// shared `messages` channel. No history, no typing.
    Channel(String),
}

impl ConversationId {
    /// The room name, for room conversations.
    pub fn room(&self) -> Option<&RoomName> {
        match self {
            ConversationId::Room(r) => Some(r),
            _ => None,
        }
    }

    /// The peer, for direct conversations.
    pub fn peer(&self) -> Option<&Username> {
        match self {
            ConversationId::Direct(u) => Some(u),
            _ => None,
        }
    }

    /// A raw channel name, checked: 1..=[`MAX_CHANNEL_BYTES`] bytes, no whitespace or
    /// control characters, no glob characters.
    ///
    /// # Errors
    /// [`Error::InvalidRoom`].
    pub fn channel(raw: &str) -> Result<ConversationId> {
        let name = raw.trim();
        if name.is_empty() || name.len() > MAX_CHANNEL_BYTES {
            return Err(Error::InvalidRoom(format!(
                "a channel name has 1 to {MAX_CHANNEL_BYTES} bytes"
            )));
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "*?[]\\".contains(c))
        {
            return Err(Error::InvalidRoom(
                "a channel name cannot contain spaces, control characters or * ? [ ] \\".into(),
            ));
        }
        Ok(ConversationId::Channel(name.to_string()))
    }

    /// Parses `@bob`, `#team`, `~messages`; a bare name is a direct conversation.
    ///
    /// # Errors
    /// [`Error::InvalidUsername`], [`Error::InvalidRoom`].
    pub fn parse(raw: &str) -> Result<ConversationId> {
        let text = raw.trim();
        if text.starts_with('#') {
            return Ok(ConversationId::Room(RoomName::parse(text)?));
        }
        if let Some(channel) = text.strip_prefix('~') {
            return ConversationId::channel(channel);
        }
        let name = text.strip_prefix('@').unwrap_or(text);
        Ok(ConversationId::Direct(Username::parse(name)?))
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversationId::Direct(u) => write!(f, "@{u}"),
            ConversationId::Room(r) => write!(f, "{r}"),
            ConversationId::Channel(c) => write!(f, "~{c}"),
        }
    }
}

impl FromStr for ConversationId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ConversationId::parse(s)
    }
}

impl Serialize for ConversationId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ConversationId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for text in ["@bob", "#team", "~messages"] {
            let id = ConversationId::parse(text).unwrap();
            assert_eq!(id.to_string(), text);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
        }
        assert_eq!(
            ConversationId::parse(" Bob ").unwrap().to_string(),
            "@bob",
            "a bare name is a person"
        );
        assert_eq!(ConversationId::parse("#Team").unwrap().to_string(), "#team");
    }

    #[test]
    fn invalid_room_names_get_the_precise_error() {
        for (raw, needle) in [
            ("#", "required"),
            ("#two words", "spaces"),
            ("#a*b", "\"*\""),
            ("##x", "single #"),
            ("#a@b", "\"@\""),
        ] {
            let e = ConversationId::parse(raw).expect_err(raw);
            assert_eq!(e.code(), "invalid_room", "{raw}");
            assert!(e.to_string().contains(needle), "{raw}: {e}");
            assert!(e.to_string().contains("room name") || needle == "single #");
        }
        let long = format!("#{}", "x".repeat(65));
        assert!(
            ConversationId::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
        assert_eq!(
            ConversationId::parse("~a b").unwrap_err().code(),
            "invalid_room"
        );
    }
}
