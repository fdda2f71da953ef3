//! The chat session: supervised connections, the outbox, streams, rooms, presence.
//!
//! One task per concern, each owning its state and taking commands over a channel (the
//! shape of mini-redis's buffered client); the [`Session`] handle only sends commands.
//!
//! - [`handle`]: the [`Session`] handle; starts the tasks.
//! - [`config`]: [`SessionConfig`] and the immutable `Setup` every task reads.
//! - [`events`]: [`Event`]s and the [`Events`] receiver.
//! - `link`: opening connections (main link, stream readers), first-attempt errors.
//! - `supervisor`: owns the main link, subscriptions, heartbeat, reconnects.
//! - `publisher`: owns the outbox; sends it in order.
//! - `readers`: joined rooms and the one `XREAD` over every stream.
//! - `inbound`: the one inbound path (decode → authenticate → route → de-duplicate → emit),
//!   read positions and unread counts.
//! - `effects`: carries out what the inbound path asks (read positions, hints).
//! - `backoff`, `shutdown`: waits between attempts; stopping as a type.
//!
//! Presence (heartbeats, who is online, member lists) is [`crate::presence`]. See
//! `docs/delivery.md` for the guarantees and `docs/protocol.md` for keys and kinds.

mod backoff;
pub mod config;
mod conn;
mod effects;
pub mod events;
pub mod handle;
mod history;
mod inbound;
mod link;
mod people;
mod publisher;
mod queue;
mod readers;
mod rooms;
mod router;
pub(crate) mod shutdown;
mod supervisor;
mod target;
mod verify;

pub(crate) use backoff::backoff as backoff_delay;
pub(crate) use conn::Conn;
pub(crate) use link::reach;

pub use config::{
    DEFAULT_HEARTBEAT, DEFAULT_MAX_RETRY_DELAY, DEFAULT_PRESENCE_BEAT, DEFAULT_STREAM_MAX_LEN,
    Delivery, PRESENCE_TTL, SessionConfig,
};
pub use events::{
    Event, Events, Member, NoticeCode, Outgoing, OutgoingState, SendReport, State, Stats, Status,
    Topology,
};
pub use handle::{Session, TYPING_EVERY};
pub use people::Contact;
