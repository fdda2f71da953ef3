//! Redchat's core: everything a Redis chat client needs that is not a window.
//!
//! The desktop shell (`src-tauri`) and the headless CLI (`crates/cli`) are both thin adapters
//! over this crate; nothing here depends on Tauri.
//!
//! # Layout
//! - [`settings`]: connection strings (`redis://`, `rediss://`, `host:port`, the Azure portal's
//!   StackExchange.Redis form) parsed into [`ConnectionSettings`].
//! - [`username`]: the username rule ([`Username`]) and inbox channel naming ([`Namespace`]).
//! - [`wire`]: the JSON message format, compatible with the original WPF client both ways.
//! - [`conversation`]: [`ConversationId`] (a person, a room, a raw channel), [`RoomName`].
//! - [`keys`]: every Redis key and channel name, hash-tagged per user and per room.
//! - [`compose`]: turning a typed line (`@bob hi`, `#team hi`) into a [`Draft`].
//! - [`presence`]: heartbeats, who is online, room member lists.
//! - [`session`]: the chat session: one task owns the Redis connection, callers hold a
//!   cheap [`Session`] handle and read typed [`Event`]s.
//! - [`identity`]: Ed25519 identity keys, signatures over what a message claims, safety numbers.
//! - [`trust`]: pinned keys (trust on first use), contacts, requests, blocked senders.
//! - [`acl`]: the `ACL SETUSER` recipe confining a user, the commands Redchat needs.
//! - [`sentinel`]: finding the master through Redis Sentinel, hearing of failovers.
//! - [`cluster`]: hash slots and the slot map of a Redis Cluster (checked as untrusted input).
//! - [`tls`]: the redis-rs client with the OS trust store, a CA file, client certificates.
//! - [`doctor`]: why a connection fails, in plain words, each problem with its fix.
//! - [`archive`]: the local message store (SQLite + FTS5): pages, search, export.
//! - [`error`]: the crate's [`Error`] with predicates and stable codes.
//!
//! Private: `outbox` (messages kept until Redis confirmed them, on disk), `inbox` (stream
//! entries, history pages), `store` (per server + user files, the inbox cursor).

pub mod acl;
pub mod archive;
pub mod cluster;
pub mod compose;
pub mod conversation;
pub mod doctor;
pub mod error;
pub mod identity;
mod inbox;
pub mod keys;
mod outbox;
pub mod presence;
pub mod sentinel;
pub mod session;
pub mod settings;
mod store;
pub mod tls;
pub mod trust;
pub mod username;
pub mod wire;

pub use archive::Archive;
pub use compose::{Draft, parse_line};
pub use conversation::{ConversationId, RoomName};
pub use error::{Code, Error, Result};
pub use identity::{Identity, KeyStorage};
pub use inbox::{HistoryCursor, HistoryPage};
pub use keys::Keys;
pub use session::{
    Contact, Delivery, Event, Events, Member, NoticeCode, Outgoing, OutgoingState, SendReport,
    Session, SessionConfig, State, Stats, Status, Topology,
};
pub use settings::{
    ConnectionSettings, ParseError, Parsed, SENTINEL_PORT, Secret, ServerKind, TlsOptions,
};
pub use store::session_dir;
pub use trust::{Standing, Trust};
pub use username::{Namespace, Username, UsernameError};
pub use wire::{
    ChatMessage, Incoming, MAX_CONTENT_BYTES, MAX_PAYLOAD_BYTES, MemberAction, Membership,
    PlainText, Typing, Unreadable,
};

#[cfg(feature = "testing")]
pub mod testing;
