//! Typed lines: `@bob hello there` addresses bob.
//!
//! As in the original client, the `@bob` prefix stays part of the content, so the original
//! client shows the same text we do.

use crate::conversation::{ConversationId, RoomName};
use crate::error::{Error, Result};
use crate::username::Username;
use crate::wire::MAX_CONTENT_BYTES;

/// A message ready to send: where it goes and the exact content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The conversation: a person, a room or a raw channel.
    pub to: ConversationId,
    /// Full content: `@recipient body` for a person (as the original client writes it), the
    /// body for a room or channel.
    pub content: String,
}

fn checked(to: ConversationId, body: &str, content: String) -> Result<Draft> {
    if body.trim().is_empty() {
        return Err(Error::InvalidMessage(format!(
            "the message to {to} is empty"
        )));
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(Error::MessageTooLarge {
            size: content.len(),
            limit: MAX_CONTENT_BYTES,
        });
    }
    Ok(Draft { to, content })
}

impl Draft {
    /// A message to `to` with `body`, written as the original client writes it (`@to body`).
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] for an empty body, [`Error::MessageTooLarge`] over the limit.
    pub fn new(to: Username, body: &str) -> Result<Draft> {
        let body = body.trim();
        let content = format!("@{to} {body}");
        checked(ConversationId::Direct(to), body, content)
    }

    /// A message to a room.
    ///
    /// # Errors
    /// As [`Draft::new`].
    pub fn to_room(room: RoomName, body: &str) -> Result<Draft> {
        let body = body.trim();
        checked(ConversationId::Room(room), body, body.to_string())
    }

    /// A line typed in an open conversation. In a direct conversation the line may still
    /// start with `@to` (typed out of habit): it is not addressed twice; a line starting with
    /// another `@name` is a message to `to` that happens to start with that text.
    ///
    /// # Errors
    /// As [`Draft::new`].
    pub fn in_conversation(to: ConversationId, text: &str) -> Result<Draft> {
        match to {
            ConversationId::Direct(peer) => {
                let body = text
                    .trim_start()
                    .strip_prefix('@')
                    .map(|rest| rest.split_once(char::is_whitespace).unwrap_or((rest, "")))
                    .filter(|(name, _)| Username::parse(name).is_ok_and(|n| n == peer))
                    .map_or(text, |(_, body)| body);
                Draft::new(peer, body)
            }
            ConversationId::Room(room) => Draft::to_room(room, text),
            channel @ ConversationId::Channel(_) => {
                let body = text.trim();
                checked(channel, body, body.to_string())
            }
        }
    }
}

/// Parses a typed line of the form `@name message` or `#room message`.
///
/// # Errors
/// [`Error::InvalidMessage`] when the line does not start with `@name` or `#room` or has no
/// body, [`Error::InvalidUsername`] / [`Error::InvalidRoom`] when the name breaks the rule.
pub fn parse_line(line: &str) -> Result<Draft> {
    let line = line.trim();
    let (name, body) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if let Some(room) = name.strip_prefix('#') {
        return Draft::to_room(RoomName::parse(room)?, body);
    }
    let Some(name) = name.strip_prefix('@') else {
        return Err(Error::InvalidMessage(
            "start the message with @name or #room, e.g. \"@bob hello\"".into(),
        ));
    };
    Draft::new(Username::parse(name)?, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recipient_and_keeps_prefix() {
        let d = parse_line("  @Bob   hello there ").unwrap();
        assert_eq!(d.to.to_string(), "@bob", "recipient normalised");
        assert_eq!(
            d.content, "@bob hello there",
            "content written as the original client does"
        );
    }

    #[test]
    fn conversation_lines_are_not_addressed_twice() {
        let bob = ConversationId::parse("@bob").unwrap();
        let cases = [
            ("hello", "@bob hello"),
            ("@bob hello", "@bob hello"),
            ("  @BOB  hello", "@bob hello"),
            ("@carol look at this", "@bob @carol look at this"),
        ];
        for (typed, content) in cases {
            assert_eq!(
                Draft::in_conversation(bob.clone(), typed).unwrap().content,
                content,
                "{typed:?}"
            );
        }
        assert_eq!(
            Draft::in_conversation(bob, "@bob").unwrap_err().code(),
            "invalid_message"
        );
    }

    #[test]
    fn room_lines_go_to_the_room_without_a_prefix() {
        let d = parse_line("#Team  hello all").unwrap();
        assert_eq!(d.to.to_string(), "#team");
        assert_eq!(d.content, "hello all");
        assert_eq!(parse_line("#a*b hi").unwrap_err().code(), "invalid_room");
        assert_eq!(parse_line("#team").unwrap_err().code(), "invalid_message");
    }

    #[test]
    fn refuses_lines_without_recipient_or_body() {
        assert_eq!(parse_line("hello").unwrap_err().code(), "invalid_message");
        assert_eq!(parse_line("@bob").unwrap_err().code(), "invalid_message");
        assert_eq!(parse_line("@bob   ").unwrap_err().code(), "invalid_message");
        assert_eq!(
            parse_line("@b*b hi").unwrap_err().code(),
            "invalid_username"
        );
        assert_eq!(parse_line("@ hi").unwrap_err().code(), "invalid_username");
    }
}
