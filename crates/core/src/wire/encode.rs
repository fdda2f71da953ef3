//! Encoding what we send: chat messages (signed) and signals.

use chrono::{Timelike, Utc};
use serde::Serialize;

use super::{
    ChatMessage, DOTNET_MIN_DATE, MAX_CONTENT_BYTES, MemberAction, PROTOCOL_VERSION, Signed,
    claim_target, format_time, new_id, unknown_conversation,
};
use crate::conversation::ConversationId;
use crate::identity::{Claim, Identity};
use crate::trust::Trust;

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
