//! What a session tells its owner: [`Event`]s, in order, on [`Events`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::mpsc;

use super::config::Delivery;
use super::queue::{EVENTS_LIMIT, Gauge};
use crate::archive::Archive;
use crate::conversation::ConversationId;
use crate::trust::Trust;
use crate::wire::{ChatMessage, Membership, PlainText, Typing, Unreadable};

/// Connection state, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Connected and subscribed.
    Connected,
    /// The link is down; the session is reconnecting on its own.
    Reconnecting,
    /// The session has ended.
    Disconnected,
}

/// A status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The new state.
    pub state: State,
    /// Our username.
    pub user: String,
    /// `host:port` of the server.
    pub addr: String,
    /// Why, when the state is not `Connected`.
    pub reason: Option<String>,
    /// Reconnect attempts made in this outage (0 when connected).
    pub attempt: u32,
    /// Milliseconds until the next attempt, while waiting for it.
    pub retry_in_ms: Option<u64>,
    /// The delivery mode.
    pub delivery: Delivery,
    /// Messages waiting in the outbox.
    pub queued: usize,
    /// What kind of deployment `addr` belongs to.
    pub topology: Topology,
    /// Data nodes known: 1 for a standalone server, master + replicas behind Sentinel.
    pub nodes: u32,
}

/// The kind of deployment a session talks to (the status bar names it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Topology {
    /// One server.
    #[default]
    Standalone,
    /// A master found through Redis Sentinel (`addr` is the master's).
    Sentinel,
    /// A Redis Cluster.
    Cluster,
}

/// Where a message we sent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OutgoingState {
    /// In the outbox (on disk when there is a data directory), not yet confirmed by Redis.
    Queued,
    /// Confirmed, and at least one client was listening.
    Delivered,
    /// Confirmed and stored in the recipient's inbox stream; nobody was listening now.
    Stored,
    /// Live-only: confirmed, but nobody was listening, so nobody got it.
    NotDelivered,
    /// Redis refused it; [`Session::retry`] queues it again.
    Failed,
}

/// A change in the state of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    /// The message.
    pub message: ChatMessage,
    /// Its state.
    pub state: OutgoingState,
    /// PUBLISH's receiver count, once sent.
    pub receivers: Option<u64>,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Someone's presence, as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The user.
    pub user: String,
    /// Online on at least one device.
    pub online: bool,
    /// When last online (RFC 3339), if known.
    pub last_seen: Option<String>,
}

/// What leaves the session, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A chat message arrived (or one we sent from another device).
    Chat(ChatMessage),
    /// Plain text arrived.
    Plain(PlainText),
    /// Something unreadable arrived.
    Unreadable(Unreadable),
    /// Someone is typing (expire it after about 6 s unless repeated).
    Typing(Typing),
    /// Someone joined or left a room.
    Membership(Membership),
    /// Someone's presence changed.
    #[serde(rename_all = "camelCase")]
    Presence {
        /// Who.
        user: String,
        /// Online now.
        online: bool,
        /// When last online (RFC 3339).
        last_seen: Option<String>,
    },
    /// Unread counts of a conversation (the read position is shared by our devices).
    Unread {
        /// Which.
        conversation: ConversationId,
        /// Messages after the read position, not ours.
        count: usize,
        /// Of those, the ones mentioning us.
        mentions: usize,
    },
    /// The rooms and channels we are in (after connecting and after every change, also
    /// those made on another device).
    Joined {
        /// Rooms (`#team`) and channels (`~messages`).
        conversations: Vec<ConversationId>,
    },
    /// A room's member list.
    Members {
        /// The room.
        conversation: ConversationId,
        /// Members with their presence.
        members: Vec<Member>,
        /// Entries of the member set that are not valid names (garbage written by others).
        unreadable: usize,
    },
    /// Who is online (and who was recently).
    Who {
        /// Users, online first.
        users: Vec<Member>,
    },
    /// The connection state changed.
    Status(Status),
    /// A message we sent changed state (also sent for messages found in the outbox at start).
    Outgoing(Outgoing),
    /// Reading the streams caught up with their end; `count` messages arrived while we
    /// were away (since the last entry this device had read).
    CaughtUp {
        /// Messages shown by the catch-up.
        count: usize,
    },
    /// Something the user should know that is not a message.
    Notice {
        /// A stable machine-readable code ([`NoticeCode`]).
        code: NoticeCode,
        /// The text, in plain words with what to do.
        text: String,
    },
    /// A sender signs with a key other than the one pinned for them (announced once per
    /// key in their conversation; their messages say `keyChanged` until the key is accepted).
    KeyChanged {
        /// Where it is announced.
        conversation: ConversationId,
        /// Whose key.
        user: String,
    },
    /// Messages of a blocked sender were dropped: how many so far (this session).
    Blocked {
        /// Who.
        user: String,
        /// Dropped so far.
        count: u64,
    },
}

/// What a [`Event::Notice`] is about: stable codes for scripts (`listen --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeCode {
    /// A stream key holds another type of value (someone overwrote it).
    StreamWrongType,
    /// No permission to read a stream or key (ACL).
    StreamForbidden,
    /// A stream is older than what this device read (deleted, restored, far-future ids):
    /// read again from its start.
    StreamReset,
    /// A stream has reached the largest possible entry id: nobody can add to it.
    StreamExhausted,
    /// An entry id far in the future was read (a hostile write).
    StreamFutureId,
    /// The room list or read positions cannot be read.
    RoomListUnreadable,
    /// Entries of the room list are not valid names.
    RoomListGarbage,
    /// A member list cannot be read.
    MembersUnreadable,
    /// The server refuses our credentials or commands: waiting for the user.
    AuthRefused,
    /// Too much arrived too fast: some of it was counted and left out.
    Overflow,
    /// The local message store is damaged (moved aside, rebuilt), cannot be written, or
    /// fell behind. Chatting goes on; the text says what happened.
    LocalStore,
}

impl NoticeCode {
    /// The snake_case text form.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeCode::StreamWrongType => "stream_wrong_type",
            NoticeCode::StreamForbidden => "stream_forbidden",
            NoticeCode::StreamReset => "stream_reset",
            NoticeCode::StreamExhausted => "stream_exhausted",
            NoticeCode::StreamFutureId => "stream_future_id",
            NoticeCode::RoomListUnreadable => "room_list_unreadable",
            NoticeCode::RoomListGarbage => "room_list_garbage",
            NoticeCode::MembersUnreadable => "members_unreadable",
            NoticeCode::AuthRefused => "auth_refused",
            NoticeCode::Overflow => "overflow",
            NoticeCode::LocalStore => "local_store",
        }
    }
}

/// The outcome of a confirmed send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReport {
    /// The message as sent.
    pub message: ChatMessage,
    /// PUBLISH's receiver count. A hint, not presence: pattern subscribers and several
    /// devices all count.
    pub receivers: u64,
    /// Also stored in the recipient's inbox stream (durable mode).
    pub stored: bool,
}

/// Counters for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Copies of a message already shown, hidden (same message id twice).
    pub duplicates_hidden: u64,
    /// Live copies of durable messages not shown because the stream copy is shown instead.
    pub live_copies_skipped: u64,
    /// Times the main link was lost and reopened.
    pub reconnects: u64,
    /// Messages shown by catch-ups from the inbox stream.
    pub caught_up: u64,
    /// Messages of blocked senders dropped.
    pub blocked_dropped: u64,
    /// Messages shown as not authentic (`invalid` or `keyChanged`).
    pub not_authentic: u64,
}

/// The receiving end of a session's events. Ends after the `Disconnected` status.
#[derive(Debug)]
pub struct Events {
    pub(crate) rx: mpsc::UnboundedReceiver<Event>,
    pub(crate) ended: bool,
    pub(crate) gauge: Arc<Gauge>,
}

fn is_final(event: &Event) -> bool {
    matches!(event, Event::Status(s) if s.state == State::Disconnected)
}

impl Events {
    /// The next event; `None` once the session has ended and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        let event = self.rx.recv().await?;
        self.gauge.taken(1);
        self.ended = is_final(&event);
        Some(event)
    }

    /// An event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        let event = self.rx.try_recv().ok()?;
        self.gauge.taken(1);
        self.ended = is_final(&event);
        Some(event)
    }

    /// Waits for at least one event, then takes up to `limit` without waiting further.
    /// Returns 0 once the session has ended.
    pub async fn recv_many(&mut self, buf: &mut Vec<Event>, limit: usize) -> usize {
        if self.ended {
            return 0;
        }
        let start = buf.len();
        let n = self.rx.recv_many(buf, limit).await;
        self.gauge.taken(n);
        if let Some(end) = buf[start..].iter().position(is_final) {
            self.ended = true;
            buf.truncate(start + end + 1);
            return end + 1;
        }
        n
    }
}

/// Where events go; cheap to clone (each task holds one).
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    tx: mpsc::UnboundedSender<Event>,
    gauge: Arc<Gauge>,
    /// Where every message seen is also stored (with a data directory).
    archive: Option<Archive>,
}

impl Emitter {
    /// The emitter and the caller's end of the event queue.
    pub fn channel(archive: Option<Archive>) -> (Emitter, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        let gauge = Arc::new(Gauge::default());
        (
            Emitter {
                tx,
                gauge: gauge.clone(),
                archive,
            },
            Events {
                rx,
                ended: false,
                gauge,
            },
        )
    }

    /// Queues `event`. A caller that stopped reading (a stuck pipe, a frozen window) does
    /// not grow memory without end: beyond [`EVENTS_LIMIT`] waiting events, message-like ones
    /// are dropped and counted, and an `overflow` notice tells how many once it reads again.
    pub fn emit(&self, event: Event) {
        // Stored before anything may be left out: the store keeps what the window missed.
        if let Some(archive) = &self.archive {
            self.store(archive, &event);
        }
        let waiting = self.gauge.waiting();
        let droppable = matches!(
            event,
            Event::Chat(_)
                | Event::Plain(_)
                | Event::Unreadable(_)
                | Event::Typing(_)
                | Event::Membership(_)
                | Event::Presence { .. }
        );
        if droppable && waiting >= EVENTS_LIMIT {
            self.gauge.drop_one();
            return;
        }
        if waiting < EVENTS_LIMIT / 2 {
            let dropped = self.gauge.take_dropped();
            if dropped > 0 {
                self.send(Event::Notice {
                    code: NoticeCode::Overflow,
                    text: format!(
                        "{dropped} messages arrived while this window (or script) was not reading and were left out; stored ones are in the history."
                    ),
                });
            }
        }
        self.send(event);
    }

    fn store(&self, archive: &Archive, event: &Event) {
        match event {
            Event::Chat(m) => archive.record(m),
            Event::Plain(p) => archive.record_plain(p),
            Event::Outgoing(o)
                if matches!(
                    o.state,
                    OutgoingState::Delivered | OutgoingState::Stored | OutgoingState::NotDelivered
                ) =>
            {
                let mut m = o.message.clone();
                m.mine = true;
                if m.trust == Trust::Unsigned {
                    m.trust = Trust::Signed;
                }
                archive.record(&m);
            }
            _ => {}
        }
        for text in archive.take_notices() {
            self.send(Event::Notice {
                code: NoticeCode::LocalStore,
                text,
            });
        }
    }

    fn send(&self, event: Event) {
        self.gauge.added();
        if self.tx.send(event).is_err() {
            self.gauge.taken(1);
        }
    }

    pub fn notice(&self, code: NoticeCode, text: impl Into<String>) {
        self.emit(Event::Notice {
            code,
            text: text.into(),
        });
    }
}

/// Counters behind [`Stats`], bumped by the tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub duplicates_hidden: AtomicU64,
    pub live_copies_skipped: AtomicU64,
    pub reconnects: AtomicU64,
    pub caught_up: AtomicU64,
    pub blocked_dropped: AtomicU64,
    pub not_authentic: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn snapshot(self: &Arc<Self>) -> Stats {
        Stats {
            duplicates_hidden: self.duplicates_hidden.load(Ordering::Relaxed),
            live_copies_skipped: self.live_copies_skipped.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            caught_up: self.caught_up.load(Ordering::Relaxed),
            blocked_dropped: self.blocked_dropped.load(Ordering::Relaxed),
            not_authentic: self.not_authentic.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typing() -> Event {
        Event::Typing(Typing {
            conversation: ConversationId::parse("@bob").unwrap(),
            user: "bob".into(),
            room: None,
        })
    }

    #[test]
    fn a_reader_that_stops_reading_gets_an_overflow_count_not_unbounded_memory() {
        let (emitter, mut events) = Emitter::channel(None);
        for _ in 0..EVENTS_LIMIT + 5 {
            emitter.emit(typing());
        }
        // Control events are never dropped.
        emitter.notice(NoticeCode::StreamReset, "kept");
        let mut n = 0;
        while events.try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, EVENTS_LIMIT + 1);
        emitter.emit(typing());
        let Some(Event::Notice { code, text }) = events.try_recv() else {
            panic!("the overflow notice comes first")
        };
        assert_eq!(code, NoticeCode::Overflow);
        assert!(text.starts_with("5 messages"), "{text}");
        assert!(matches!(events.try_recv(), Some(Event::Typing(_))));
    }
}
