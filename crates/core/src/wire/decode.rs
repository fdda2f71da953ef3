//! Decoding what arrives: never fails, never panics; everything is untrusted.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    ChatMessage, Incoming, MAX_DEPTH, MAX_PAYLOAD_BYTES, MAX_SENDER_CHARS, MemberAction,
    Membership, PREVIEW_CHARS, PlainText, ReadPosition, Signed, Typing, Unreadable, format_time,
    new_id, parse_time,
};
use crate::conversation::ConversationId;
use crate::trust::Trust;

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
            let at = order_ms(sent, now);
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
        at: order_ms(sent, now),
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
            at: order_ms(sent, now),
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

/// Most a sender's clock may run ahead of ours before its time is not believed.
const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1_000;

/// The order key of a payload: the sender's time, but never more than a few minutes ahead
/// of ours (a `SentAt` in the year 9999 would otherwise keep its conversation read forever).
fn order_ms(sent: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let now = now.timestamp_millis();
    sent.map_or(now, |t| t.timestamp_millis().min(now + MAX_CLOCK_AHEAD_MS))
}
