//! Typed lines: `@bob hello there` addresses bob.
//!
//! As in the original client, the `@bob` prefix stays part of the content, so the original
//! client shows the same text we do.

use crate::error::{Error, Result};
use crate::username::Username;
use crate::wire::MAX_CONTENT_BYTES;

/// A message ready to send: who gets it and the exact content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Recipient.
    pub to: Username,
    /// Full content, `@recipient body`.
    pub content: String,
}

impl Draft {
    /// A message to `to` with `body`, written as the original client writes it (`@to body`).
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] for an empty body, [`Error::MessageTooLarge`] over the limit.
    pub fn new(to: Username, body: &str) -> Result<Draft> {
        let body = body.trim();
        if body.is_empty() {
            return Err(Error::InvalidMessage(format!(
                "the message to @{to} is empty"
            )));
        }
        let content = format!("@{to} {body}");
        if content.len() > MAX_CONTENT_BYTES {
            return Err(Error::MessageTooLarge {
                size: content.len(),
                limit: MAX_CONTENT_BYTES,
            });
        }
        Ok(Draft { to, content })
    }
}

impl Draft {
    /// A line typed in an open conversation with `to`. The line may still start with `@to`
    /// (typed out of habit): it is not addressed twice. A line starting with another `@name`
    /// is a message to `to` that happens to start with that text.
    ///
    /// # Errors
    /// As [`Draft::new`].
    pub fn in_conversation(to: Username, text: &str) -> Result<Draft> {
        let body = text
            .trim_start()
            .strip_prefix('@')
            .map(|rest| rest.split_once(char::is_whitespace).unwrap_or((rest, "")))
            .filter(|(name, _)| Username::parse(name).is_ok_and(|n| n == to))
            .map_or(text, |(_, body)| body);
        Draft::new(to, body)
    }
}

/// Parses a typed line of the form `@name message`.
///
/// # Errors
/// [`Error::InvalidMessage`] when the line does not start with `@name` or has no body,
/// [`Error::InvalidUsername`] when the name breaks the username rule.
pub fn parse_line(line: &str) -> Result<Draft> {
    let line = line.trim();
    let Some(rest) = line.strip_prefix('@') else {
        return Err(Error::InvalidMessage(
            "start the message with @name, e.g. \"@bob hello\"".into(),
        ));
    };
    let (name, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    Draft::new(Username::parse(name)?, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recipient_and_keeps_prefix() {
        let d = parse_line("  @Bob   hello there ").unwrap();
        assert_eq!(d.to.as_str(), "bob", "recipient normalised");
        assert_eq!(
            d.content, "@bob hello there",
            "content written as the original client does"
        );
    }

    #[test]
    fn conversation_lines_are_not_addressed_twice() {
        let bob = Username::parse("bob").unwrap();
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
