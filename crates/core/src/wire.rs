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
use crate::identity::{Claim, Identity, MAX_SIGNATURE_FIELD};
use crate::trust::Trust;

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

fn unknown_conversation() -> ConversationId {
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
    fn from_fields(key: Option<&str>, sig: Option<&str>) -> Option<Signed> {
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

#[derive(Serialize)]
struct ChatEnvelope<'a> {
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
    #[serde(rename = "To", skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(rename = "Room", skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    #[serde(rename = "Redchat")]
    version: u32,
    #[serde(rename = "Durable", skip_serializing_if = "std::ops::Not::not")]
    durable: bool,
    #[serde(rename = "Key", skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(rename = "Sig", skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
}

/// A signal we send (every kind but chat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal<'a> {
    /// We are typing to `to` (a person) or in `room`.
    Typing {
        /// Recipient of a direct conversation.
        to: Option<&'a str>,
        /// Room name.
        room: Option<&'a str>,
    },
    /// A read position for our own devices.
    Read {
        /// Conversation (text form).
        conversation: &'a str,
        /// Read up to (ms).
        at: i64,
    },
    /// We joined or left `room`.
    Member {
        /// Room name.
        room: &'a str,
        /// What.
        action: MemberAction,
        /// Id of this change.
        id: &'a str,
    },
    /// Our presence changed.
    Presence,
    /// Our joined list changed.
    Rooms,
}

#[derive(Serialize)]
struct SignalEnvelope<'a> {
    #[serde(rename = "Kind")]
    kind: &'static str,
    #[serde(rename = "Sender")]
    sender: &'a str,
    #[serde(rename = "MessageId", skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    #[serde(rename = "SentAt")]
    sent_at: String,
    #[serde(rename = "To", skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(rename = "Room", skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    #[serde(rename = "Conversation", skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a str>,
    #[serde(rename = "At", skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none")]
    action: Option<MemberAction>,
    #[serde(rename = "Redchat")]
    version: u32,
    #[serde(rename = "Key", skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(rename = "Sig", skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
}

/// The payload of a signal from `sender`; a membership change is signed by `identity`.
pub fn encode_signal(sender: &str, signal: &Signal<'_>, identity: Option<&Identity>) -> Vec<u8> {
    let now = Utc::now();
    let now = now
        .with_nanosecond(now.timestamp_subsec_micros() * 1_000)
        .unwrap_or(now);
    let mut env = SignalEnvelope {
        kind: "",
        sender,
        message_id: None,
        sent_at: format_time(now),
        to: None,
        room: None,
        conversation: None,
        at: None,
        action: None,
        version: PROTOCOL_VERSION,
        key: None,
        sig: None,
    };
    match *signal {
        Signal::Typing { to, room } => {
            env.kind = "typing";
            env.to = to;
            env.room = room;
        }
        Signal::Read { conversation, at } => {
            env.kind = "read";
            env.conversation = Some(conversation);
            env.at = Some(at);
        }
        Signal::Member { room, action, id } => {
            env.kind = "member";
            env.room = Some(room);
            env.action = Some(action);
            env.message_id = Some(id);
            if let Some(identity) = identity {
                let target = claim_target(None, Some(room));
                let claim = Claim {
                    kind: "member",
                    sender: &sender.trim().to_lowercase(),
                    target: &target,
                    content: action.as_str(),
                    id,
                    sent_at_micros: now.timestamp_micros(),
                    key: identity.public_key(),
                };
                env.sig = Some(identity.sign(&claim));
                env.key = Some(identity.public_key());
            }
        }
        Signal::Presence => env.kind = "presence",
        Signal::Rooms => env.kind = "rooms",
    }
    serde_json::to_vec(&env).expect("signal envelopes always serialise")
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

fn format_time(t: DateTime<Utc>) -> String {
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

/// Builds a direct message `sender` sends to `to` and its payload (live delivery only).
///
/// # Errors
/// [`crate::Error::MessageTooLarge`] when `content` exceeds [`MAX_CONTENT_BYTES`].
pub fn encode(
    sender: &str,
    to: &str,
    channel: &str,
    content: &str,
) -> crate::Result<(ChatMessage, Vec<u8>)> {
    let conversation = ConversationId::parse(to).unwrap_or_else(|_| unknown_conversation());
    encode_chat(sender, &conversation, channel, content, false, None)
}

/// Builds a chat message in `conversation` (a person or a room) and its payload; `durable`
/// marks a message that is also appended to a stream (`"Durable":true` on the wire);
/// `identity` signs it (see [`crate::identity`]).
///
/// # Errors
/// [`crate::Error::MessageTooLarge`] when `content` exceeds [`MAX_CONTENT_BYTES`].
pub fn encode_chat(
    sender: &str,
    conversation: &ConversationId,
    channel: &str,
    content: &str,
    durable: bool,
    identity: Option<&Identity>,
) -> crate::Result<(ChatMessage, Vec<u8>)> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(crate::Error::MessageTooLarge {
            size: content.len(),
            limit: MAX_CONTENT_BYTES,
        });
    }
    let id = new_id();
    let now = Utc::now();
    let now = now
        .with_nanosecond(now.timestamp_subsec_micros() * 1_000)
        .unwrap_or(now);
    let sent_at = format_time(now);
    let (to, room) = match conversation {
        ConversationId::Direct(peer) => (Some(peer.as_str()), None),
        ConversationId::Room(room) => (None, Some(room.as_str())),
        ConversationId::Channel(_) => (None, None),
    };
    let signature = identity
        .filter(|_| to.is_some() || room.is_some())
        .map(|identity| {
            let target = claim_target(to, room);
            let claim = Claim {
                kind: "chat",
                sender: &sender.trim().to_lowercase(),
                target: &target,
                content,
                id: &id,
                sent_at_micros: now.timestamp_micros(),
                key: identity.public_key(),
            };
            Signed {
                key: identity.public_key().to_string(),
                sig: identity.sign(&claim),
            }
        });
    let envelope = ChatEnvelope {
        id: 0,
        sender,
        content,
        received_at: DOTNET_MIN_DATE,
        message_id: &id,
        sent_at: &sent_at,
        to,
        room,
        version: PROTOCOL_VERSION,
        durable,
        key: signature.as_ref().map(|s| s.key.as_str()),
        sig: signature.as_ref().map(|s| s.sig.clone()),
    };
    let payload =
        serde_json::to_vec(&envelope).map_err(|e| crate::Error::InvalidMessage(e.to_string()))?;
    let message = ChatMessage {
        id,
        conversation: conversation.clone(),
        sender: sender.to_string(),
        to: to.map(str::to_string),
        room: room.map(str::to_string),
        content: content.to_string(),
        received_at: sent_at.clone(),
        sent_at: Some(sent_at),
        at: now.timestamp_millis(),
        channel: channel.to_string(),
        legacy: false,
        durable,
        mine: true,
        mentions_me: false,
        trust: if signature.is_some() {
            Trust::Signed
        } else {
            Trust::Unsigned
        },
        request: false,
        sender_issue: None,
        lookalike: None,
        signature,
    };
    Ok((message, payload))
}

/// Classifies a payload received on `channel`. Never fails, never panics. The conversation
/// of what it returns is a placeholder (the channel) until core's inbound path decides.
pub fn decode(channel: &str, payload: &[u8]) -> Incoming {
    let now = Utc::now();
    let received_at = format_time(now);
    let placeholder = ConversationId::Channel(channel.to_string());
    let unreadable = |reason: &str| {
        Incoming::Unreadable(Unreadable {
            id: new_id(),
            conversation: placeholder.clone(),
            channel: channel.to_string(),
            reason: reason.to_string(),
            preview: preview(payload),
            size: payload.len(),
            received_at: received_at.clone(),
        })
    };
    let plain = |text: &str| {
        Incoming::Plain(PlainText {
            id: new_id(),
            conversation: placeholder.clone(),
            channel: channel.to_string(),
            text: text.to_string(),
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
    // Fast path: the exact field names Redchat and the original client write, borrowed, no
    // JSON tree. Anything else (other casing, kinds, odd types) takes the general path below.
    if let Ok(fast) = serde_json::from_str::<FastChat<'_>>(text)
        && fast.kind.is_none()
        && let Some(chat) = fast.into_chat(channel, &placeholder, now, &received_at)
    {
        return Incoming::Chat(chat);
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // Not JSON: the original console client and redis-cli send plain strings.
        Err(_) => return plain(text),
    };
    let object = match value {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Array(_) => return unreadable("JSON array, expected a message object"),
        // A bare JSON scalar (`42`, `"hi"`, `true`) is what someone typed: show it as text.
        _ => return plain(text),
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
    let sender = sender.trim();
    if sender.is_empty() || sender.chars().count() > MAX_SENDER_CHARS {
        return unreadable("sender name is empty or too long");
    }
    let message_id = string("MessageId").filter(|id| !id.is_empty() && id.len() <= 64);
    let sent = string("SentAt").and_then(parse_time);
    let short = |name: &str| {
        string(name)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SENDER_CHARS)
    };
    let room = short("Room");
    match field("Kind") {
        None => {}
        Some(serde_json::Value::String(kind)) if kind.eq_ignore_ascii_case("chat") => {}
        Some(serde_json::Value::String(kind)) => {
            let at = sent.map_or(now.timestamp_millis(), |t| t.timestamp_millis());
            return match kind.to_ascii_lowercase().as_str() {
                "typing" => Incoming::Typing(Typing {
                    conversation: placeholder,
                    user: sender.to_string(),
                    room: room.map(str::to_string),
                }),
                "read" => match (short("Conversation"), field("At").and_then(|v| v.as_i64())) {
                    (Some(conversation), Some(at)) => Incoming::Read(ReadPosition {
                        sender: sender.to_string(),
                        conversation: conversation.to_string(),
                        at,
                    }),
                    _ => unreadable("read position without \"Conversation\" or \"At\""),
                },
                "member" => {
                    let action = match string("Action") {
                        Some(a) if a.eq_ignore_ascii_case("join") => MemberAction::Join,
                        Some(a) if a.eq_ignore_ascii_case("leave") => MemberAction::Leave,
                        _ => return unreadable("membership change without a known \"Action\""),
                    };
                    let (Some(room), Some(id)) = (room, message_id) else {
                        return unreadable("membership change without \"Room\" or \"MessageId\"");
                    };
                    Incoming::Membership(Membership {
                        id: id.to_string(),
                        conversation: placeholder,
                        room: room.to_string(),
                        user: sender.to_string(),
                        action,
                        at,
                        received_at,
                        trust: Trust::Unsigned,
                        sent_at_micros: sent.map(|t| t.timestamp_micros()),
                        signature: Signed::from_fields(string("Key"), string("Sig")),
                    })
                }
                "presence" => Incoming::Presence {
                    sender: sender.to_string(),
                },
                "rooms" => Incoming::Rooms {
                    sender: sender.to_string(),
                },
                _ => unreadable("unknown message kind"),
            };
        }
        Some(_) => return unreadable("\"Kind\" is not text"),
    }
    let Some(content) = string("Content") else {
        return unreadable("not a chat message (no text \"Content\")");
    };
    if let Some(id) = field("Id")
        && !id.is_number()
        && !id.is_null()
    {
        return unreadable("\"Id\" is not a number");
    }
    let to = string("To")
        .map(str::to_string)
        .or_else(|| room.is_none().then(|| channel.to_string()));
    Incoming::Chat(ChatMessage {
        id: message_id.map_or_else(new_id, str::to_string),
        conversation: placeholder,
        sender: sender.to_string(),
        to,
        room: room.map(str::to_string),
        content: content.to_string(),
        sent_at: sent.map(format_time),
        at: sent.map_or(now.timestamp_millis(), |t| t.timestamp_millis()),
        received_at,
        channel: channel.to_string(),
        legacy: message_id.is_none(),
        durable: field("Durable").and_then(serde_json::Value::as_bool) == Some(true),
        mine: false,
        mentions_me: false,
        trust: Trust::Unsigned,
        request: false,
        sender_issue: None,
        lookalike: None,
        signature: Signed::from_fields(string("Key"), string("Sig")),
    })
}

/// Whether `payload` is a chat message marked `"Durable":true` (exactly cased, as Redchat
/// writes it), read without building anything: the live copies of durable messages are
/// skipped by readers that take the stream copy. Anything else answers `false` and is
/// decoded in full (where other casings of `Durable` are honoured too).
pub fn is_durable_chat(payload: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "Durable", default)]
        durable: Option<bool>,
        #[serde(rename = "Kind", default)]
        kind: Option<serde::de::IgnoredAny>,
        #[serde(rename = "Sender", default)]
        sender: Option<serde::de::IgnoredAny>,
        #[serde(rename = "Content", default)]
        content: Option<serde::de::IgnoredAny>,
    }
    payload.len() <= MAX_PAYLOAD_BYTES
        && serde_json::from_slice::<Peek>(payload).is_ok_and(|p| {
            p.durable == Some(true) && p.kind.is_none() && p.sender.is_some() && p.content.is_some()
        })
}

/// A chat payload with exactly-cased field names (what Redchat and the original client
/// write). When a payload names a field twice in different casing, the exactly-cased one wins.
#[derive(Deserialize)]
struct FastChat<'a> {
    #[serde(rename = "Id", default)]
    id: Option<serde_json::Number>,
    #[serde(rename = "Sender", borrow)]
    sender: std::borrow::Cow<'a, str>,
    #[serde(rename = "Content", borrow)]
    content: std::borrow::Cow<'a, str>,
    #[serde(rename = "MessageId", default, borrow)]
    message_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "SentAt", default, borrow)]
    sent_at: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "To", default, borrow)]
    to: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "Room", default, borrow)]
    room: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "Durable", default)]
    durable: Option<bool>,
    #[serde(rename = "Kind", default)]
    kind: Option<serde::de::IgnoredAny>,
    #[serde(rename = "Key", default, borrow)]
    key: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "Sig", default, borrow)]
    sig: Option<std::borrow::Cow<'a, str>>,
}

impl FastChat<'_> {
    /// The message, as the general path would read it; `None` sends it there (a sender
    /// that is empty or too long gets that path's precise reason).
    fn into_chat(
        self,
        channel: &str,
        placeholder: &ConversationId,
        now: DateTime<Utc>,
        received_at: &str,
    ) -> Option<ChatMessage> {
        let _ = self.id;
        let sender = self.sender.trim();
        if sender.is_empty() || sender.chars().count() > MAX_SENDER_CHARS {
            return None;
        }
        let message_id = self
            .message_id
            .as_deref()
            .filter(|id| !id.is_empty() && id.len() <= 64);
        let sent = self.sent_at.as_deref().and_then(parse_time);
        let room = self
            .room
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SENDER_CHARS);
        let to = self
            .to
            .as_deref()
            .map(str::to_string)
            .or_else(|| room.is_none().then(|| channel.to_string()));
        Some(ChatMessage {
            id: message_id.map_or_else(new_id, str::to_string),
            conversation: placeholder.clone(),
            sender: sender.to_string(),
            to,
            room: room.map(str::to_string),
            content: self.content.into_owned(),
            sent_at: sent.map(format_time),
            at: sent.map_or(now.timestamp_millis(), |t| t.timestamp_millis()),
            received_at: received_at.to_string(),
            channel: channel.to_string(),
            legacy: message_id.is_none(),
            durable: self.durable == Some(true),
            mine: false,
            mentions_me: false,
            trust: Trust::Unsigned,
            request: false,
            sender_issue: None,
            lookalike: None,
            signature: Signed::from_fields(self.key.as_deref(), self.sig.as_deref()),
        })
    }
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
