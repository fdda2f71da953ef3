//! The wire format: JSON compatible with the original WPF client, both ways.
//!
//! The original client publishes Json.NET output of its `Message` class,
//! `{"Id":0,"Sender":"alice","Content":"@bob hi","ReceivedAt":"0001-01-01T00:00:00"}`, to the
//! recipient's channel, reads keys case-insensitively and ignores unknown properties. We send
//! those four fields first and add `MessageId` (unique, for de-duplication), `SentAt` (UTC,
//! RFC 3339, microseconds), `To` (recipient) and `Redchat` (protocol version). See
//! `docs/protocol.md`.
//!
//! Everything received is untrusted. [`decode`] never fails: a payload is a chat message, plain
//! text (not JSON, as `redis-cli PUBLISH` and the original console client send), or an
//! [`Unreadable`] entry with a short safe preview.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest message body we send, in bytes of UTF-8.
pub const MAX_CONTENT_BYTES: usize = 16 * 1024;
/// Largest payload we decode; larger ones become [`Unreadable`].
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting we parse; deeper payloads become [`Unreadable`].
pub const MAX_DEPTH: usize = 16;
/// Longest sender name we accept from the wire, in characters.
pub const MAX_SENDER_CHARS: usize = 128;
/// Characters of a payload shown in an [`Unreadable`] preview.
pub const PREVIEW_CHARS: usize = 80;
/// The protocol version we write in the `Redchat` field.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the original client puts in `ReceivedAt` when sending (.NET's `DateTime.MinValue`).
const DOTNET_MIN_DATE: &str = "0001-01-01T00:00:00";

/// A chat message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Unique id: the sender's `MessageId`, or a local one for the original client's messages.
    pub id: String,
    /// Who sent it (as the sender wrote it).
    pub sender: String,
    /// The recipient named in the message, if any.
    pub to: Option<String>,
    /// The text, including the `@recipient` prefix as the original client writes it.
    pub content: String,
    /// When the sender sent it (RFC 3339, UTC), if the sender said.
    pub sent_at: Option<String>,
    /// When we received (or sent) it (RFC 3339, UTC).
    pub received_at: String,
    /// Channel it arrived on (or was published to).
    pub channel: String,
    /// `true` when it came from a client without Redchat's extra fields.
    pub legacy: bool,
    /// The sender also appended it to the recipient's inbox stream (durable delivery), so a
    /// durable reader takes it from the stream and ignores the live copy.
    pub durable: bool,
}

impl ChatMessage {
    /// When the sender sent it, in microseconds since the Unix epoch, if it said.
    pub fn sent_at_micros(&self) -> Option<i64> {
        let t = OffsetDateTime::parse(self.sent_at.as_deref()?, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000).ok()
    }
}

/// A payload that is not JSON, shown as text from the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainText {
    /// Local id, for the UI's lists.
    pub id: String,
    /// Channel it arrived on.
    pub channel: String,
    /// The text.
    pub text: String,
    /// When we received it (RFC 3339, UTC).
    pub received_at: String,
}

/// A payload we could not read: shown as an entry, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// Local id, for the UI's lists.
    pub id: String,
    /// Channel it arrived on.
    pub channel: String,
    /// Why it could not be read.
    pub reason: String,
    /// The first characters, with control characters replaced.
    pub preview: String,
    /// Payload size in bytes.
    pub size: usize,
    /// When we received it (RFC 3339, UTC).
    pub received_at: String,
}

/// The three things a payload can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Incoming {
    /// A chat message (ours or the original client's).
    Chat(ChatMessage),
    /// Plain text.
    Plain(PlainText),
    /// Unreadable payload.
    Unreadable(Unreadable),
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "Id")]
    id: i32,
    #[serde(rename = "Sender")]
    sender: &'a str,
    #[serde(rename = "Content")]
    content: &'a str,
    #[serde(rename = "ReceivedAt")]
    received_at: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "SentAt")]
    sent_at: &'a str,
    #[serde(rename = "To")]
    to: &'a str,
    #[serde(rename = "Redchat")]
    version: u32,
    #[serde(rename = "Durable", skip_serializing_if = "std::ops::Not::not")]
    durable: bool,
}

/// Current time as RFC 3339 UTC with (at most) microsecond precision.
pub fn now_rfc3339() -> String {
    format_time(OffsetDateTime::now_utc())
}

fn format_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(t.microsecond() * 1_000).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| DOTNET_MIN_DATE.to_string())
}

/// A fresh message id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Builds the message `sender` sends to `to` and its payload (live delivery only).
///
/// # Errors
/// [`crate::Error::MessageTooLarge`] when `content` exceeds [`MAX_CONTENT_BYTES`].
pub fn encode(
    sender: &str,
    to: &str,
    channel: &str,
    content: &str,
) -> crate::Result<(ChatMessage, Vec<u8>)> {
    encode_with(sender, to, channel, content, false)
}

/// Like [`encode`]; `durable` marks a message that is also appended to the recipient's
/// inbox stream (`"Durable":true` on the wire).
///
/// # Errors
/// As [`encode`].
pub fn encode_with(
    sender: &str,
    to: &str,
    channel: &str,
    content: &str,
    durable: bool,
) -> crate::Result<(ChatMessage, Vec<u8>)> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(crate::Error::MessageTooLarge {
            size: content.len(),
            limit: MAX_CONTENT_BYTES,
        });
    }
    let id = new_id();
    let sent_at = now_rfc3339();
    let envelope = Envelope {
        id: 0,
        sender,
        content,
        received_at: DOTNET_MIN_DATE,
        message_id: &id,
        sent_at: &sent_at,
        to,
        version: PROTOCOL_VERSION,
        durable,
    };
    let payload =
        serde_json::to_vec(&envelope).map_err(|e| crate::Error::InvalidMessage(e.to_string()))?;
    let message = ChatMessage {
        id,
        sender: sender.to_string(),
        to: Some(to.to_string()),
        content: content.to_string(),
        received_at: sent_at.clone(),
        sent_at: Some(sent_at),
        channel: channel.to_string(),
        legacy: false,
        durable,
    };
    Ok((message, payload))
}

/// Classifies a payload received on `channel`. Never fails, never panics.
pub fn decode(channel: &str, payload: &[u8]) -> Incoming {
    let received_at = now_rfc3339();
    let unreadable = |reason: &str| {
        Incoming::Unreadable(Unreadable {
            id: new_id(),
            channel: channel.to_string(),
            reason: reason.to_string(),
            preview: preview(payload),
            size: payload.len(),
            received_at: received_at.clone(),
        })
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return unreadable(&format!(
            "too large ({} bytes; limit {MAX_PAYLOAD_BYTES})",
            payload.len()
        ));
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        return unreadable("binary data (not UTF-8 text)");
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return unreadable("binary data (control characters)");
    }
    if nesting_depth(text) > MAX_DEPTH {
        return unreadable(&format!("JSON nested deeper than {MAX_DEPTH} levels"));
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // Not JSON: the original console client and redis-cli send plain strings.
        Err(_) => {
            return Incoming::Plain(PlainText {
                id: new_id(),
                channel: channel.to_string(),
                text: text.to_string(),
                received_at,
            });
        }
    };
    let object = match value {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Array(_) => return unreadable("JSON array, expected a message object"),
        // A bare JSON scalar (`42`, `"hi"`, `true`) is what someone typed: show it as text.
        _ => {
            return Incoming::Plain(PlainText {
                id: new_id(),
                channel: channel.to_string(),
                text: text.to_string(),
                received_at,
            });
        }
    };
    // Json.NET reads property names case-insensitively; so do we (first match wins).
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let string = |name: &str| field(name).and_then(|v| v.as_str());
    let Some(sender) = string("Sender") else {
        return unreadable("not a chat message (no text \"Sender\")");
    };
    let Some(content) = string("Content") else {
        return unreadable("not a chat message (no text \"Content\")");
    };
    let sender = sender.trim();
    if sender.is_empty() || sender.chars().count() > MAX_SENDER_CHARS {
        return unreadable("sender name is empty or too long");
    }
    if let Some(id) = field("Id")
        && !id.is_number()
        && !id.is_null()
    {
        return unreadable("\"Id\" is not a number");
    }
    let message_id = string("MessageId").filter(|id| !id.is_empty() && id.len() <= 64);
    let sent_at = string("SentAt")
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map(format_time);
    let to = string("To")
        .map(str::to_string)
        .or_else(|| Some(channel.to_string()));
    Incoming::Chat(ChatMessage {
        id: message_id.map_or_else(new_id, str::to_string),
        sender: sender.to_string(),
        to,
        content: content.to_string(),
        sent_at,
        received_at,
        channel: channel.to_string(),
        legacy: message_id.is_none(),
        durable: field("Durable").and_then(serde_json::Value::as_bool) == Some(true),
    })
}

/// Deepest `[`/`{` nesting outside strings. Linear, no allocation: runs before any parse.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// First [`PREVIEW_CHARS`] characters, lossy UTF-8, control characters shown as `·`.
fn preview(payload: &[u8]) -> String {
    let head = &payload[..payload.len().min(PREVIEW_CHARS * 4)];
    let mut out: String = String::from_utf8_lossy(head)
        .chars()
        .take(PREVIEW_CHARS)
        .map(|c| if c.is_control() { '·' } else { c })
        .collect();
    if payload.len() > out.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what the original WPF client publishes (Json.NET, default settings).
    const ORIGINAL: &[u8] =
        br#"{"Id":0,"Sender":"alice","Content":"@bob hi there","ReceivedAt":"0001-01-01T00:00:00"}"#;

    /// The original client's `Message` class, read the way Json.NET reads it: unknown
    /// properties ignored.
    #[derive(serde::Deserialize, Debug)]
    #[allow(non_snake_case, dead_code)]
    struct OriginalMessage {
        Id: i32,
        Sender: String,
        Content: String,
        ReceivedAt: String,
    }

    #[test]
    fn reads_the_original_clients_bytes() {
        let Incoming::Chat(m) = decode("bob", ORIGINAL) else {
            panic!("original payload must decode as chat")
        };
        assert_eq!(m.sender, "alice");
        assert_eq!(m.content, "@bob hi there");
        assert_eq!(m.channel, "bob");
        assert!(m.legacy, "no MessageId means an original client");
        assert_eq!(m.sent_at, None);
    }

    #[test]
    fn reads_keys_case_insensitively() {
        let Incoming::Chat(m) = decode("bob", br#"{"sender":"Alice","CONTENT":"hey","id":7}"#)
        else {
            panic!("lower/upper-case keys must decode")
        };
        assert_eq!((m.sender.as_str(), m.content.as_str()), ("Alice", "hey"));
    }

    #[test]
    fn our_payload_is_an_original_message() {
        let (sent, payload) = encode("alice", "bob", "bob", "@bob hi").unwrap();
        let text = std::str::from_utf8(&payload).unwrap();
        assert!(
            text.starts_with(r#"{"Id":0,"Sender":"alice","Content":"@bob hi","ReceivedAt":"0001-01-01T00:00:00","#),
            "the original four fields come first, in the original shape: {text}"
        );
        let original: OriginalMessage =
            serde_json::from_slice(&payload).expect("the original class must read our payload");
        assert_eq!(
            (
                original.Id,
                original.Sender.as_str(),
                original.Content.as_str()
            ),
            (0, "alice", "@bob hi")
        );
        assert_eq!(
            original.ReceivedAt, DOTNET_MIN_DATE,
            ".NET must be able to parse ReceivedAt"
        );
        let Incoming::Chat(back) = decode("bob", &payload) else {
            panic!("our payload must decode")
        };
        assert_eq!(back.id, sent.id, "the message id survives the round trip");
        assert_eq!(back.sent_at, sent.sent_at);
        assert_eq!(back.to.as_deref(), Some("bob"));
        assert!(!back.legacy);
    }

    #[test]
    fn hostile_content_round_trips_as_text() {
        let hostile = "<img src=x onerror=alert(1)> \"quotes\" \\ \u{202e}rtl 💥";
        let (_, payload) = encode("mallory", "bob", "bob", hostile).unwrap();
        let Incoming::Chat(m) = decode("bob", &payload) else {
            panic!()
        };
        assert_eq!(m.content, hostile);
    }

    #[test]
    fn plain_text_is_shown_as_text() {
        for (payload, text) in [
            (&b"hello from redis-cli"[..], "hello from redis-cli"),
            (b"[not json] really", "[not json] really"),
            (b"42", "42"),
            (b"{broken", "{broken"),
        ] {
            match decode("messages", payload) {
                Incoming::Plain(p) => assert_eq!(p.text, text),
                other => panic!("{payload:?} should be plain text, got {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_shape_and_hostile_payloads_are_unreadable_not_dropped() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let huge = format!(
            r#"{{"Sender":"a","Content":"{}"}}"#,
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        let long_sender = format!(
            r#"{{"Sender":"{}","Content":"x"}}"#,
            "s".repeat(MAX_SENDER_CHARS + 1)
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (br#"{"Sender":"a"}"#.to_vec(), "Content"),
            (br#"{"Content":"a"}"#.to_vec(), "Sender"),
            (br#"{"Sender":5,"Content":"a"}"#.to_vec(), "Sender"),
            (br#"{"Sender":"a","Content":{"x":1}}"#.to_vec(), "Content"),
            (br#"{"Sender":"a","Content":"b","Id":"x"}"#.to_vec(), "Id"),
            (br#"[1,2,3]"#.to_vec(), "array"),
            (vec![0xff, 0xfe, 0x00, 0x41], "binary"),
            (b"ab\x00cd".to_vec(), "control"),
            (deep.into_bytes(), "nested"),
            (huge.into_bytes(), "too large"),
            (long_sender.into_bytes(), "sender"),
        ];
        for (payload, needle) in cases {
            match decode("bob", &payload) {
                Incoming::Unreadable(u) => {
                    assert!(
                        u.reason.contains(needle),
                        "reason {:?} should mention {needle}",
                        u.reason
                    );
                    assert!(
                        u.preview.chars().count() <= PREVIEW_CHARS + 1,
                        "preview must stay short"
                    );
                    assert!(
                        !u.preview.chars().any(char::is_control),
                        "preview must be safe to show"
                    );
                    assert_eq!(u.size, payload.len());
                }
                other => panic!(
                    "{:?} should be unreadable, got {other:?}",
                    String::from_utf8_lossy(&payload[..payload.len().min(40)])
                ),
            }
        }
    }

    #[test]
    fn refuses_to_send_oversized_messages() {
        let body = "x".repeat(MAX_CONTENT_BYTES + 1);
        let err = encode("a", "b", "b", &body).unwrap_err();
        assert_eq!(err.code(), "message_too_large");
        assert!(
            encode("a", "b", "b", &"x".repeat(MAX_CONTENT_BYTES)).is_ok(),
            "the limit itself is allowed"
        );
    }
}
