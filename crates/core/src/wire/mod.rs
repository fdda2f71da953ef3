//! The wire format: one JSON envelope with kinds, compatible with the original WPF client.
//!
//! The original client publishes Json.NET output of its `Message` class,
//! `{"Id":0,"Sender":"alice","Content":"@bob hi","ReceivedAt":"0001-01-01T00:00:00"}`, to the
//! recipient's channel, reads keys case-insensitively and ignores unknown properties. A chat
//! message we send has those four fields first and adds `MessageId` (unique, for
//! de-duplication), `SentAt` (UTC, RFC 3339, microseconds), `To` (recipient) or `Room`,
//! `Redchat` (protocol version) and `Durable`. Other kinds carry `"Kind"` and never go to an
//! original client's channel: `typing`, `read` (a read position, between one user's devices),
//! `member` (a join or leave, shown in the room), `presence` (a hint to look again), `rooms`
//! (one's own devices: the joined list changed). See `docs/protocol.md`.
//!
//! Everything received is untrusted. [`decode`] never fails: a payload is one of the kinds,
//! plain text (not JSON, as `redis-cli PUBLISH` and the original console client send), or an
//! [`Unreadable`] entry with a short safe preview.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::conversation::ConversationId;
use crate::identity::MAX_SIGNATURE_FIELD;
use crate::trust::Trust;

mod decode;
mod encode;

pub use decode::{decode, is_durable_chat};
pub use encode::{Signal, encode, encode_chat, encode_signal};

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
pub(crate) const DOTNET_MIN_DATE: &str = "0001-01-01T00:00:00";

pub(crate) fn unknown_conversation() -> ConversationId {
    ConversationId::Channel(String::new())
}

/// A chat message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Unique id: the sender's `MessageId`, or a local one for the original client's messages.
    pub id: String,
    /// The conversation it belongs to, as core decided (the UI never re-derives it).
    #[serde(default = "unknown_conversation")]
    pub conversation: ConversationId,
    /// Who sent it (as the sender wrote it).
    pub sender: String,
    /// The recipient named in a direct message, if any.
    pub to: Option<String>,
    /// The room (without `#`) of a room message.
    #[serde(default)]
    pub room: Option<String>,
    /// The text, including the `@recipient` prefix as the original client writes it.
    pub content: String,
    /// When the sender sent it (RFC 3339, UTC), if the sender said.
    pub sent_at: Option<String>,
    /// When we received (or sent) it (RFC 3339, UTC); the server's time for stream entries.
    pub received_at: String,
    /// Order key in milliseconds since the epoch: the server's time of a stream entry, else
    /// the sender's time, else the time received.
    #[serde(default)]
    pub at: i64,
    /// Channel it arrived on (or was published to).
    pub channel: String,
    /// `true` when it came from a client without Redchat's extra fields.
    pub legacy: bool,
    /// The sender also appended it to a stream (durable delivery), so a durable reader takes
    /// it from the stream and ignores the live copy.
    pub durable: bool,
    /// Sent by this user (from this device or another one).
    #[serde(default)]
    pub mine: bool,
    /// A room message that mentions this user (`@me` as a word).
    #[serde(default)]
    pub mentions_me: bool,
    /// How far it is believed to come from `sender` (decided by core's inbound path).
    #[serde(default)]
    pub trust: Trust,
    /// A direct message from someone who is not a contact yet (the window's Requests).
    #[serde(default)]
    pub request: bool,
    /// Why the sender's name is not an honest name (invisible, bidi or mixed-script
    /// characters), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_issue: Option<String>,
    /// A contact whose name looks like this sender's (a possible impostor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookalike: Option<String>,
    /// The signature fields as received (not part of the JSON the UI sees).
    #[serde(skip)]
    pub signature: Option<Signed>,
}

/// A payload's `Key` and `Sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signer's public key (base64).
    pub key: String,
    /// The signature (base64).
    pub sig: String,
}

impl Signed {
    pub(crate) fn from_fields(key: Option<&str>, sig: Option<&str>) -> Option<Signed> {
        match (key, sig) {
            (Some(key), Some(sig))
                if key.len() <= MAX_SIGNATURE_FIELD && sig.len() <= MAX_SIGNATURE_FIELD =>
            {
                Some(Signed {
                    key: key.to_string(),
                    sig: sig.to_string(),
                })
            }
            // Half a signature, or an oversized one, is a broken signature, not none.
            (Some(_), _) | (_, Some(_)) => Some(Signed {
                key: String::new(),
                sig: String::new(),
            }),
            (None, None) => None,
        }
    }
}

/// The canonical target of a claim: `@user` or `#room`.
pub fn claim_target(to: Option<&str>, room: Option<&str>) -> String {
    match (room, to) {
        (Some(room), _) => format!("#{}", room.trim().to_lowercase()),
        (None, Some(to)) => format!("@{}", to.trim().to_lowercase()),
        (None, None) => String::new(),
    }
}

impl ChatMessage {
    /// When the sender sent it, in microseconds since the Unix epoch, if it said.
    pub fn sent_at_micros(&self) -> Option<i64> {
        parse_time(self.sent_at.as_deref()?).map(|t| t.timestamp_micros())
    }
}

/// A payload that is not JSON, shown as text from the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainText {
    /// Local id, for the UI's lists.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation: ConversationId,
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
    /// The conversation it arrived in.
    pub conversation: ConversationId,
    /// Channel (or stream) it arrived on.
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

/// Someone is typing. Never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    /// Where (decided by core).
    pub conversation: ConversationId,
    /// Who, as they wrote it.
    pub user: String,
    /// The room named in the signal, if any.
    #[serde(skip)]
    pub room: Option<String>,
}

/// A read position sent between one user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadPosition {
    /// Who says so.
    pub sender: String,
    /// The conversation (text form, checked by core).
    pub conversation: String,
    /// Everything at or before this time (ms) is read.
    pub at: i64,
}

/// Join or leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemberAction {
    /// Joined the room.
    Join,
    /// Left the room.
    Leave,
}

/// A membership change, shown as a system line in the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// Unique id (de-duplication of the live and stored copy).
    pub id: String,
    /// The room conversation.
    pub conversation: ConversationId,
    /// The room (without `#`).
    pub room: String,
    /// Who joined or left.
    pub user: String,
    /// What happened.
    pub action: MemberAction,
    /// Order key (ms), as for chat messages.
    pub at: i64,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// How far it is believed to come from `user`.
    pub trust: Trust,
    /// The sending time as written, in microseconds (part of what is signed).
    #[serde(skip)]
    pub sent_at_micros: Option<i64>,
    /// The signature fields as received.
    #[serde(skip)]
    pub signature: Option<Signed>,
}

impl MemberAction {
    /// `join` or `leave`, as signed.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberAction::Join => "join",
            MemberAction::Leave => "leave",
        }
    }
}

/// Everything a payload can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Incoming {
    /// A chat message (ours or the original client's).
    Chat(ChatMessage),
    /// Plain text.
    Plain(PlainText),
    /// Unreadable payload.
    Unreadable(Unreadable),
    /// A typing signal.
    Typing(Typing),
    /// A read position from another device of ours.
    Read(ReadPosition),
    /// A join or leave.
    Membership(Membership),
    /// Someone's presence changed: look again.
    Presence {
        /// Who says so.
        sender: String,
    },
    /// Our joined rooms changed on another device.
    Rooms {
        /// Who says so.
        sender: String,
    },
}

/// Current time as RFC 3339 UTC with (at most) microsecond precision.
pub fn now_rfc3339() -> String {
    format_time(Utc::now())
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// RFC 3339 UTC of a time in milliseconds since the epoch.
pub fn ms_to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(now_rfc3339, format_time)
}

pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    let t = t.with_nanosecond(micros * 1_000).unwrap_or(t);
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses RFC 3339 into UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A fresh message id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
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
    fn a_sent_time_far_in_the_future_is_not_believed_for_ordering() {
        let Incoming::Chat(m) = decode(
            "bob",
            br#"{"Sender":"mallory","Content":"hi","SentAt":"9999-01-01T00:00:00Z"}"#,
        ) else {
            panic!("a chat message")
        };
        assert!(m.at <= now_ms() + 5 * 60 * 1_000 + 1_000, "at = {}", m.at);
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
    fn room_messages_and_signals_round_trip() {
        let team = ConversationId::parse("#team").unwrap();
        let (sent, payload) = encode_chat("alice", &team, "c", "hi all", true, None).unwrap();
        let text = std::str::from_utf8(&payload).unwrap();
        assert!(
            text.contains(r#""Room":"team""#) && !text.contains(r#""To""#),
            "{text}"
        );
        let Incoming::Chat(back) = decode("c", &payload) else {
            panic!("room message decodes as chat")
        };
        assert_eq!(
            (back.room.as_deref(), back.to.as_deref()),
            (Some("team"), None)
        );
        assert_eq!(back.id, sent.id);
        let typing = encode_signal(
            "bob",
            &Signal::Typing {
                to: None,
                room: Some("team"),
            },
            None,
        );
        assert!(
            matches!(decode("c", &typing), Incoming::Typing(t) if t.user == "bob" && t.room.as_deref() == Some("team"))
        );
        let read = encode_signal(
            "bob",
            &Signal::Read {
                conversation: "#team",
                at: 42,
            },
            None,
        );
        assert!(
            matches!(decode("c", &read), Incoming::Read(r) if r.at == 42 && r.conversation == "#team")
        );
        let member = encode_signal(
            "bob",
            &Signal::Member {
                room: "team",
                action: MemberAction::Leave,
                id: "m1",
            },
            None,
        );
        assert!(
            matches!(decode("c", &member), Incoming::Membership(m) if m.action == MemberAction::Leave && m.id == "m1")
        );
        for junk in [
            br#"{"Kind":"read","Sender":"bob"}"#.to_vec(),
            br#"{"Kind":"member","Sender":"bob","Room":"t","Action":"explode","MessageId":"x"}"#
                .to_vec(),
            br#"{"Kind":"zap","Sender":"bob"}"#.to_vec(),
            br#"{"Kind":7,"Sender":"bob"}"#.to_vec(),
        ] {
            assert!(
                matches!(decode("c", &junk), Incoming::Unreadable(_)),
                "{}",
                String::from_utf8_lossy(&junk)
            );
        }
    }

    #[test]
    fn the_fast_path_reads_like_the_general_one() {
        // Same payloads, one exactly cased (fast path), one not (general path).
        let exact = br#"{"Id":0,"Sender":" alice ","Content":"hi","MessageId":"m1","SentAt":"2026-01-01T00:00:00Z","To":"bob","Durable":true}"#;
        let lower = br#"{"id":0,"sender":" alice ","content":"hi","messageid":"m1","sentat":"2026-01-01T00:00:00Z","to":"bob","durable":true}"#;
        let (Incoming::Chat(mut a), Incoming::Chat(mut b)) =
            (decode("c", exact), decode("c", lower))
        else {
            panic!("both are chat")
        };
        a.received_at.clear();
        b.received_at.clear();
        assert_eq!(a, b);
        assert!(
            matches!(decode("c", br#"{"Sender":"","Content":"x"}"#), Incoming::Unreadable(u) if u.reason.contains("sender"))
        );
        assert!(
            matches!(decode("c", br#"{"Sender":"a","Content":"x","Id":"7"}"#), Incoming::Unreadable(u) if u.reason.contains("Id"))
        );
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
