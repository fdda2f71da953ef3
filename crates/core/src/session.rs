//! The chat session: supervised connections, the outbox, durable inboxes and history.
//!
//! ## Tasks
//! - **Supervisor** owns the main link: one RESP3 connection carrying the SUBSCRIBEs (pushes)
//!   and the short commands (PUBLISH, XADD, PING, history). A fresh connection is opened for
//!   every attempt and subscribes before the session reports `Connected`, so a subscription
//!   is never silently lost. A dead link is noticed by the connection closing, by a heartbeat
//!   PING that gets no answer in time (a black-holed link), or by TCP keepalive; it is then
//!   reopened with exponential backoff and jitter, forever, until shutdown. "Retry now" cuts
//!   the wait short.
//! - **Publisher** sends the outbox in order, in batches, on the main link. A message leaves
//!   the outbox only when Redis confirmed it; a connection problem keeps it queued.
//! - **Inbox reader** (durable mode) has its own connection for the blocking `XREAD`, reads the
//!   inbox stream from the persisted cursor (catch-up, then live) and shows each message once.
//!
//! See `docs/delivery.md` for the guarantees.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::compose::Draft;
use crate::error::{Error, Result};
use crate::inbox::{self, HistoryCursor, HistoryPage, PAYLOAD_FIELD};
use crate::outbox::{Outbox, Queued};
use crate::settings::ConnectionSettings;
use crate::store::{self, CursorFile, Seen, entry_id};
use crate::username::{Namespace, Username};
use crate::wire::{self, ChatMessage, Incoming, PlainText, Unreadable};

/// Default heartbeat period.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);
/// Default longest wait between reconnect attempts.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Default approximate length limit of each inbox and sent stream (`XADD MAXLEN ~`).
pub const DEFAULT_STREAM_MAX_LEN: u64 = 10_000;
/// First wait between reconnect attempts.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Entries per XREAD.
const READ_BATCH: usize = 256;
/// How long one XREAD blocks.
const READ_BLOCK: Duration = Duration::from_secs(5);
/// Messages per transaction when sending the outbox.
const SEND_BATCH: usize = 64;

/// How messages are delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    /// PUBLISH for whoever is listening now, and XADD to the recipient's inbox stream so an
    /// offline recipient gets it on their next connect. Inbox and history are read from streams.
    #[default]
    Durable,
    /// PUBLISH only, exactly like the original client: nobody listening means the message is gone.
    LiveOnly,
}

/// Everything needed to start a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to connect.
    pub settings: ConnectionSettings,
    /// Who we are; our inbox is `namespace + user`.
    pub user: Username,
    /// Prefix of inbox channels and stream keys (empty by default, like the original client).
    pub namespace: Namespace,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Channels to listen on besides the inbox, e.g. the original console client's shared
    /// `messages` channel. Their payloads are decoded like inbox payloads.
    pub extra_channels: Vec<String>,
    /// Durable (default) or live-only delivery.
    pub delivery: Delivery,
    /// Where the outbox and the inbox cursor are kept (per server + user below it). `None`:
    /// in memory only, lost when the process ends.
    pub data_dir: Option<PathBuf>,
    /// Longest wait between reconnect attempts.
    pub max_retry_delay: Duration,
    /// Approximate length limit of the inbox and sent streams.
    pub stream_max_len: u64,
    /// When the first connection fails for a reason that may pass (unreachable, timeout),
    /// start anyway and keep trying, instead of returning the error.
    pub keep_trying: bool,
}

impl SessionConfig {
    /// A config with the defaults: durable, in-memory outbox, fail fast on the first connect.
    pub fn new(settings: ConnectionSettings, user: Username) -> Self {
        SessionConfig {
            settings,
            user,
            namespace: Namespace::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            extra_channels: Vec::new(),
            delivery: Delivery::Durable,
            data_dir: None,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            stream_max_len: DEFAULT_STREAM_MAX_LEN,
            keep_trying: false,
        }
    }
}

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

/// What leaves the session, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A chat message arrived.
    Chat(ChatMessage),
    /// Plain text arrived.
    Plain(PlainText),
    /// Something unreadable arrived.
    Unreadable(Unreadable),
    /// The connection state changed.
    Status(Status),
    /// A message we sent changed state (also sent for messages found in the outbox at start).
    Outgoing(Outgoing),
    /// Reading the inbox stream caught up with its end; `count` messages arrived while we
    /// were away (since the last entry this device had read).
    CaughtUp {
        /// Messages shown by the catch-up.
        count: usize,
    },
    /// Something the user should know that is not a message.
    Notice {
        /// The text.
        text: String,
    },
}

impl From<Incoming> for Event {
    fn from(incoming: Incoming) -> Self {
        match incoming {
            Incoming::Chat(m) => Event::Chat(m),
            Incoming::Plain(p) => Event::Plain(p),
            Incoming::Unreadable(u) => Event::Unreadable(u),
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
}

/// The receiving end of a session's events. Ends after the `Disconnected` status.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
    ended: bool,
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
        self.ended = is_final(&event);
        Some(event)
    }

    /// An event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        let event = self.rx.try_recv().ok()?;
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
        if let Some(end) = buf[start..].iter().position(is_final) {
            self.ended = true;
            buf.truncate(start + end + 1);
            return end + 1;
        }
        n
    }
}

/// A cheap, cloneable handle to a running session. Dropping the last handle stops it.
#[derive(Debug, Clone)]
pub struct Session {
    shared: Arc<Shared>,
    _guard: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.send_replace(true);
    }
}

#[derive(Debug)]
struct Identity {
    user: Username,
    inbox: String,
    inbox_stream: String,
    sent_stream: String,
    /// The inbox and any extra channels: everything we SUBSCRIBE to.
    channels: Vec<String>,
    addr: String,
    namespace: Namespace,
    tls: bool,
    delivery: Delivery,
    heartbeat: Duration,
    connect_timeout: Duration,
    response_timeout: Duration,
    max_retry_delay: Duration,
    stream_max_len: u64,
}

#[derive(Debug, Default)]
struct Counters {
    duplicates_hidden: AtomicU64,
    live_copies_skipped: AtomicU64,
    reconnects: AtomicU64,
    caught_up: AtomicU64,
}

type Waiter = oneshot::Sender<Result<SendReport>>;

#[derive(Debug)]
struct Shared {
    id: Identity,
    client: redis::Client,
    events: mpsc::UnboundedSender<Event>,
    outbox: Mutex<Outbox>,
    outbox_changed: Notify,
    waiters: Mutex<HashMap<String, Waiter>>,
    /// The main link while it is up.
    link: watch::Sender<Option<MultiplexedConnection>>,
    stop: watch::Sender<bool>,
    /// Set by the supervisor once everything is closed.
    finished: watch::Sender<bool>,
    /// "Retry now".
    wake: Notify,
    /// Another task saw an error on the link: check it now.
    suspect: Notify,
    seen: Mutex<Seen>,
    counters: Counters,
    /// Ids of the batch being sent right now.
    in_flight: Mutex<std::collections::HashSet<String>>,
    /// The inbox reader works; when not (permissions), durable messages are shown from pub/sub.
    stream_readable: std::sync::atomic::AtomicBool,
}

/// How the connected phase ended.
enum Ended {
    Stopped(MultiplexedConnection),
    Lost(String),
}

impl Session {
    /// Connects, subscribes and starts the session's tasks.
    ///
    /// The first attempt is bounded by the settings' connect timeout and reports precisely
    /// what is wrong; with [`SessionConfig::keep_trying`], a reason that may pass
    /// (unreachable, timeout) starts the session in `Reconnecting` instead.
    /// Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Auth`], [`Error::Unreachable`], [`Error::Timeout`], [`Error::Tls`],
    /// [`Error::UnsupportedServer`], [`Error::Redis`] or [`Error::Storage`] (outbox file).
    pub async fn connect(config: SessionConfig) -> Result<(Session, Events)> {
        // rustls needs a process-wide crypto provider; a second install is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let settings = &config.settings;
        let addr = settings.addr();
        let info = settings
            .connection_info()
            .map_err(|e| Error::from_redis(&e, &addr, settings.tls))?;
        let client =
            redis::Client::open(info).map_err(|e| Error::from_redis(&e, &addr, settings.tls))?;
        let (outbox, cursor_file) = match &config.data_dir {
            Some(dir) => {
                let dir = store::session_dir(dir, settings, &config.namespace, &config.user);
                let outbox = Outbox::open(&dir.join("outbox.jsonl")).map_err(|e| {
                    Error::Storage(format!("cannot open the outbox in {}: {e}", dir.display()))
                })?;
                (outbox, CursorFile::new(Some(dir.join("inbox.json"))))
            }
            None => (Outbox::in_memory(), CursorFile::new(None)),
        };
        let ns = &config.namespace;
        let id = Identity {
            inbox: ns.inbox(&config.user),
            inbox_stream: ns.inbox_stream(&config.user),
            sent_stream: ns.sent_stream(&config.user),
            channels: std::iter::once(ns.inbox(&config.user))
                .chain(config.extra_channels.iter().cloned())
                .collect(),
            user: config.user.clone(),
            addr,
            namespace: ns.clone(),
            tls: settings.tls,
            delivery: config.delivery,
            heartbeat: config.heartbeat,
            connect_timeout: settings.connect_timeout,
            response_timeout: settings.response_timeout,
            max_retry_delay: config.max_retry_delay.max(FIRST_RETRY_DELAY),
            stream_max_len: config.stream_max_len,
        };

        let (first, first_error) = match first_link(&client, &id, settings).await {
            Ok(link) => (Some(link), None),
            Err(e) if config.keep_trying && e.is_retryable() => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        };

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            id,
            client,
            events: events_tx,
            outbox: Mutex::new(outbox),
            outbox_changed: Notify::new(),
            waiters: Mutex::new(HashMap::new()),
            link: watch::Sender::new(None),
            stop: watch::Sender::new(false),
            finished: watch::Sender::new(false),
            wake: Notify::new(),
            suspect: Notify::new(),
            seen: Mutex::new(Seen::default()),
            counters: Counters::default(),
            stream_readable: std::sync::atomic::AtomicBool::new(true),
            in_flight: Mutex::new(std::collections::HashSet::new()),
        });
        // Up from the start when the first attempt worked (the supervisor takes over).
        if let Some((conn, _)) = &first {
            shared.link.send_replace(Some(conn.clone()));
        }
        // Messages left in the outbox by an earlier run: show them as queued or failed.
        let (pending, failed) = {
            let outbox = shared.outbox();
            (outbox.all(), outbox.failed().to_vec())
        };
        for q in pending {
            shared.emit(Event::Outgoing(Outgoing {
                message: q.message,
                state: OutgoingState::Queued,
                receivers: None,
                reason: None,
            }));
        }
        for (q, reason) in failed {
            shared.emit(Event::Outgoing(Outgoing {
                message: q.message,
                state: OutgoingState::Failed,
                receivers: None,
                reason: Some(reason),
            }));
        }
        let mut helpers = Vec::new();
        if shared.id.delivery == Delivery::Durable {
            let saved = cursor_file.load();
            {
                let mut seen = shared.seen();
                for id in &saved.recent {
                    seen.insert(id);
                }
            }
            helpers.push(tokio::spawn(
                shared.clone().read_inbox(cursor_file, saved.last),
            ));
        }
        helpers.push(tokio::spawn(shared.clone().publish_outbox()));
        tokio::spawn(shared.clone().supervise(first, first_error, helpers));
        Ok((
            Session {
                _guard: Arc::new(StopOnDrop(shared.clone())),
                shared,
            },
            Events {
                rx: events_rx,
                ended: false,
            },
        ))
    }

    /// Our username.
    pub fn user(&self) -> &Username {
        &self.shared.id.user
    }

    /// Our inbox channel.
    pub fn inbox(&self) -> &str {
        &self.shared.id.inbox
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        &self.shared.id.addr
    }

    /// The delivery mode.
    pub fn delivery(&self) -> Delivery {
        self.shared.id.delivery
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            duplicates_hidden: c.duplicates_hidden.load(Ordering::Relaxed),
            live_copies_skipped: c.live_copies_skipped.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            caught_up: c.caught_up.load(Ordering::Relaxed),
        }
    }

    /// The main link is up (connected and subscribed).
    pub fn is_connected(&self) -> bool {
        self.shared.link.borrow().is_some()
    }

    /// Messages waiting in the outbox.
    pub fn queued(&self) -> usize {
        self.shared.outbox().len()
    }

    /// Puts `draft` in the outbox (on disk, when there is a data directory) and returns at
    /// once; [`Event::Outgoing`] reports how it went. Sent in order, as soon as the link is up.
    ///
    /// # Errors
    /// [`Error::NotConnected`] after shutdown; [`Error::MessageTooLarge`];
    /// [`Error::Storage`] when the outbox file cannot be written (nothing was queued).
    pub async fn submit(&self, draft: Draft) -> Result<ChatMessage> {
        self.shared.submit(draft, None)
    }

    /// Like [`Session::submit`], then waits (at most the response timeout plus a second) until
    /// Redis confirmed the message. On timeout the message is taken back out of the outbox
    /// unless it is already on its way.
    ///
    /// # Errors
    /// As [`Session::submit`]; [`Error::Timeout`] when not confirmed in time (the link is
    /// down); [`Error::Redis`] when Redis refused it.
    pub async fn send(&self, draft: Draft) -> Result<SendReport> {
        let (reply, mut answer) = oneshot::channel();
        let message = self.shared.submit(draft, Some(reply))?;
        let limit = self.shared.id.response_timeout + Duration::from_secs(1);
        loop {
            match tokio::time::timeout(limit, &mut answer).await {
                Ok(Ok(result)) => return result,
                Ok(Err(_)) => return Err(Error::NotConnected),
                // On its way: the publisher's own bounded wait decides; wait for it.
                Err(_) if self.shared.in_flight().contains(&message.id) => continue,
                Err(_) => {
                    self.shared.waiters().remove(&message.id);
                    self.shared.outbox().remove(&[&message.id]);
                    return Err(Error::Timeout {
                        addr: self.shared.id.addr.clone(),
                        after: limit,
                    });
                }
            }
        }
    }

    /// Queues a failed message again (same id, so a recipient never shows it twice).
    /// `message_id` may be a unique prefix of the id (as shown by the CLI).
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when no failed message (or more than one) matches;
    /// [`Error::Storage`].
    pub async fn retry(&self, message_id: &str) -> Result<()> {
        let queued = self
            .shared
            .outbox()
            .find_failed(message_id)
            .ok_or_else(|| Error::InvalidMessage("no failed message with that id".into()))?;
        self.shared.enqueue(queued)
    }

    /// Reconnects now instead of waiting for the next attempt.
    pub fn retry_now(&self) {
        self.shared.wake.notify_one();
    }

    /// Publishes `text` as is (no JSON) to `channel`, as the original console client did,
    /// right now (not through the outbox). Returns PUBLISH's receiver count.
    ///
    /// # Errors
    /// [`Error::NotConnected`] while the link is down; [`Error::MessageTooLarge`] above
    /// [`crate::MAX_CONTENT_BYTES`]; connection errors.
    pub async fn publish_text(&self, channel: &str, text: &str) -> Result<u64> {
        if text.len() > crate::MAX_CONTENT_BYTES {
            return Err(Error::MessageTooLarge {
                size: text.len(),
                limit: crate::MAX_CONTENT_BYTES,
            });
        }
        let mut conn = self.shared.current_link()?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(text);
        let publish = cmd.query_async::<u64>(&mut conn);
        self.shared.bounded(publish).await
    }

    /// A page of history with `peer` (every conversation when `None`) from the inbox and sent
    /// streams: the newest `limit` messages older than `before`, oldest first. Empty in
    /// live-only mode (nothing is stored).
    ///
    /// # Errors
    /// [`Error::NotConnected`] while the link is down; connection errors.
    pub async fn history(
        &self,
        peer: Option<&Username>,
        before: Option<HistoryCursor>,
        limit: usize,
    ) -> Result<HistoryPage> {
        if self.shared.id.delivery == Delivery::LiveOnly {
            return Ok(HistoryPage {
                messages: Vec::new(),
                more: None,
            });
        }
        let mut conn = self.shared.current_link()?;
        let id = &self.shared.id;
        let limit_time = id.response_timeout * 4;
        let page = inbox::history(
            &mut conn,
            (&id.inbox_stream, &id.sent_stream),
            peer,
            before,
            limit.clamp(1, 1_000),
        );
        match tokio::time::timeout(limit_time, page).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                addr: id.addr.clone(),
                after: limit_time,
            }),
        }
    }

    /// Stops: UNSUBSCRIBEs, closes the connections and ends the event stream, waiting at most
    /// `limit`. Queued messages stay in the outbox file for the next session. Idempotent.
    pub async fn shutdown(&self, limit: Duration) {
        self.shared.stop.send_replace(true);
        let mut finished = self.shared.finished.subscribe();
        let _ = tokio::time::timeout(limit, async {
            let _ = finished.wait_for(|f| *f).await;
        })
        .await;
    }
}

/// Opens and closes a bare TCP connection, so that "nothing there" is told apart from "something
/// there that does not answer like Redis" (a TLS mismatch, a wrong port).
async fn reach(settings: &ConnectionSettings) -> Result<()> {
    let addr = settings.addr();
    let connect = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port));
    match tokio::time::timeout(settings.connect_timeout, connect).await {
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(Error::Timeout {
            addr,
            after: settings.connect_timeout,
        }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Error::Unreachable {
                addr,
                detail: "connection refused: is redis-server running and is the port right?".into(),
            })
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            let detail = if text.contains("lookup")
                || text.contains("not known")
                || text.contains("resolve")
            {
                format!("host name \"{}\" not found", settings.host)
            } else {
                text
            };
            Err(Error::Unreachable { addr, detail })
        }
    }
}

/// The TCP connection opened but the Redis handshake got no answer in time.
fn handshake_timeout(settings: &ConnectionSettings) -> Error {
    let addr = settings.addr();
    if settings.tls {
        Error::Tls {
            addr,
            detail: "the TLS handshake got no answer: the server does not speak TLS on this port (use redis:// or ssl=False, or the TLS port)".into(),
        }
    } else {
        Error::Timeout {
            addr,
            after: settings.connect_timeout,
        }
    }
}

type Link = (MultiplexedConnection, mpsc::UnboundedReceiver<PushInfo>);

/// The first connection, with errors that say precisely what is wrong.
async fn first_link(
    client: &redis::Client,
    id: &Identity,
    settings: &ConnectionSettings,
) -> Result<Link> {
    reach(settings).await?;
    open_main(client, id, settings.connect_timeout)
        .await
        .map_err(|e| match e {
            Opening::Timeout => handshake_timeout(settings),
            Opening::Failed(e) if e.is_timeout() => handshake_timeout(settings),
            Opening::Failed(e) => Error::from_redis(&e, &id.addr, id.tls),
        })
}

enum Opening {
    Timeout,
    Failed(redis::RedisError),
}

impl Opening {
    /// A short reason for the status line while reconnecting.
    fn reason(&self, id: &Identity) -> String {
        match self {
            Opening::Timeout => "no answer from the server".into(),
            Opening::Failed(e) if e.is_connection_refusal() => "connection refused".into(),
            Opening::Failed(e) if e.is_timeout() => "no answer from the server".into(),
            Opening::Failed(e) if e.is_connection_dropped() || e.is_io_error() => {
                format!("connection failed ({e})")
            }
            Opening::Failed(e) => Error::from_redis(e, &id.addr, id.tls).to_string(),
        }
    }
}

/// Opens the main link: RESP3 with a fresh push channel, subscribed to every channel.
async fn open_main(
    client: &redis::Client,
    id: &Identity,
    limit: Duration,
) -> Result<Link, Opening> {
    let (tx, rx) = mpsc::unbounded_channel::<PushInfo>();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(id.response_timeout))
        .set_push_sender(tx);
    let open = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        conn.subscribe(&id.channels).await?;
        Ok::<_, redis::RedisError>(conn)
    };
    match tokio::time::timeout(limit + id.response_timeout, open).await {
        Ok(Ok(conn)) => Ok((conn, rx)),
        Ok(Err(e)) => Err(Opening::Failed(e)),
        Err(_) => Err(Opening::Timeout),
    }
}

/// How long a message may be refused by Redis for a reason that can pass (OOM, LOADING,
/// READONLY…) before it is marked failed.
const REFUSAL_BUDGET: Duration = Duration::from_secs(30);

/// Refusals that will not pass by waiting: the key has another type, the ACL user may not
/// run the command or touch the key, the server lacks the command (no streams).
///
/// A transaction reports its commands' errors inside one error ("Pipeline failure: [(Index 0,
/// error: \"WRONGTYPE\": ...)]", "Transaction aborted: [...]"), so the text is searched too.
fn is_permanent(e: &redis::RedisError) -> bool {
    has_code(e, &["WRONGTYPE", "NOPERM", "NOAUTH", "WRONGPASS"])
}

/// Refusals that stop the inbox reader for good: it may not read the stream, or the server
/// has no streams. (A key of another type may be fixed by an admin: the reader keeps trying.)
fn reader_refused(e: &redis::RedisError) -> bool {
    has_code(e, &["NOPERM", "NOAUTH", "WRONGPASS"])
}

/// The error, or one of a transaction's errors, has one of `codes` (or is an unknown command).
fn has_code(e: &redis::RedisError, codes: &[&str]) -> bool {
    let upper = |c: &str| c.to_ascii_uppercase();
    let text = e.to_string();
    e.code().is_some_and(|c| codes.contains(&upper(c).as_str()))
        || e.clone().into_server_errors().is_some_and(|errors| {
            errors
                .iter()
                .any(|(_, err)| codes.contains(&upper(err.code()).as_str()))
        })
        // Older shapes of the aggregated message: `error: "WRONGTYPE": ...`, `NoPerm: ...`.
        || codes.iter().any(|c| {
            text.contains(&format!("\"{c}\"")) || text.to_ascii_uppercase().contains(&format!("{c}:"))
        })
        || text.contains("unknown command")
}

/// Resolves once the session is told to stop (the watch guard is not held across awaits).
async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Wait before reconnect attempt `attempt` (1-based): exponential from 100 ms, capped, with
/// "equal jitter" (half fixed, half random) so that many clients do not retry in step.
fn backoff(attempt: u32, max: Duration) -> Duration {
    let exp = FIRST_RETRY_DELAY.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let full = exp.min(max);
    let half = full / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between calls and processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Shared {
    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().expect("outbox lock")
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        self.waiters.lock().expect("waiters lock")
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.in_flight.lock().expect("in-flight lock")
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("seen lock")
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn status(
        &self,
        state: State,
        reason: Option<String>,
        attempt: u32,
        retry_in: Option<Duration>,
    ) {
        self.emit(Event::Status(Status {
            state,
            user: self.id.user.to_string(),
            addr: self.id.addr.clone(),
            reason,
            attempt,
            retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            delivery: self.id.delivery,
            queued: self.outbox().len(),
        }));
    }

    fn current_link(&self) -> Result<MultiplexedConnection> {
        if self.stopped() {
            return Err(Error::NotConnected);
        }
        self.link.borrow().clone().ok_or(Error::NotConnected)
    }

    async fn bounded<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(self.id.response_timeout, f).await {
            Ok(result) => result.map_err(|e| Error::from_redis(&e, &self.id.addr, self.id.tls)),
            Err(_) => {
                self.suspect.notify_one();
                Err(Error::Timeout {
                    addr: self.id.addr.clone(),
                    after: self.id.response_timeout,
                })
            }
        }
    }

    fn submit(&self, draft: Draft, waiter: Option<Waiter>) -> Result<ChatMessage> {
        if self.stopped() {
            return Err(Error::NotConnected);
        }
        let channel = self.id.namespace.inbox(&draft.to);
        let durable = self.id.delivery == Delivery::Durable;
        let (message, payload) = wire::encode_with(
            self.id.user.as_str(),
            draft.to.as_str(),
            &channel,
            &draft.content,
            durable,
        )?;
        let queued = Queued {
            message: message.clone(),
            inbox_stream: self.id.namespace.inbox_stream(&draft.to),
            payload: String::from_utf8(payload).expect("JSON is UTF-8"),
        };
        if let Some(waiter) = waiter {
            self.waiters().insert(message.id.clone(), waiter);
        }
        if let Err(e) = self.enqueue_quietly(queued) {
            self.waiters().remove(&message.id);
            return Err(e);
        }
        Ok(message)
    }

    fn enqueue_quietly(&self, queued: Queued) -> Result<()> {
        self.outbox().push(queued).map_err(|e| {
            Error::Storage(format!("could not save the message in the outbox: {e}"))
        })?;
        self.outbox_changed.notify_one();
        Ok(())
    }

    fn enqueue(&self, queued: Queued) -> Result<()> {
        let message = queued.message.clone();
        self.enqueue_quietly(queued)?;
        self.emit(Event::Outgoing(Outgoing {
            message,
            state: OutgoingState::Queued,
            receivers: None,
            reason: None,
        }));
        Ok(())
    }

    /// Owns the main link: opens it, watches it, reopens it, until stopped.
    async fn supervise(
        self: Arc<Self>,
        mut first: Option<Link>,
        first_error: Option<String>,
        helpers: Vec<tokio::task::JoinHandle<()>>,
    ) {
        let mut stop = self.stop.subscribe();
        let mut attempt: u32 = 0;
        if let Some(why) = &first_error {
            self.status(State::Reconnecting, Some(why.clone()), 0, None);
        }
        let mut reason = first_error.unwrap_or_default();
        let closing = loop {
            let (conn, pushes) = match first.take() {
                Some(link) => link,
                None => {
                    if attempt > 0 {
                        let delay = backoff(attempt, self.id.max_retry_delay);
                        self.status(
                            State::Reconnecting,
                            Some(reason.clone()),
                            attempt,
                            Some(delay),
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = self.wake.notified() => {}
                            _ = until_stopped(&mut stop) => break None,
                        }
                    }
                    attempt += 1;
                    let limit = self.id.connect_timeout.min(Duration::from_secs(5));
                    let opened = tokio::select! {
                        opened = open_main(&self.client, &self.id, limit) => opened,
                        _ = until_stopped(&mut stop) => break None,
                    };
                    match opened {
                        Ok(link) => link,
                        Err(e) => {
                            reason = e.reason(&self.id);
                            tracing::info!("reconnect attempt {attempt} failed: {reason}");
                            continue;
                        }
                    }
                }
            };
            attempt = 0;
            self.link.send_replace(Some(conn.clone()));
            self.status(State::Connected, None, 0, None);
            let ended = self.connected(conn, pushes, &mut stop).await;
            self.link.send_replace(None);
            match ended {
                Ended::Stopped(conn) => break Some(conn),
                Ended::Lost(why) => {
                    tracing::info!("link lost: {why}");
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    self.status(State::Reconnecting, Some(why.clone()), 0, None);
                    reason = why;
                }
            }
        };
        if let Some(mut conn) = closing {
            let limit = self.id.response_timeout.min(Duration::from_secs(2));
            let _ = tokio::time::timeout(limit, conn.unsubscribe(&self.id.channels)).await;
        }
        // The publisher and the inbox reader stop on the same signal; wait for them so that
        // nothing is still writing the cursor or the outbox once shutdown returns.
        for helper in helpers {
            let _ = tokio::time::timeout(Duration::from_secs(1), helper).await;
        }
        for (_, waiter) in self.waiters().drain() {
            let _ = waiter.send(Err(Error::NotConnected));
        }
        self.status(State::Disconnected, None, 0, None);
        self.finished.send_replace(true);
    }

    /// The connected phase: pushes, heartbeat and error reports, until the link dies or
    /// the session stops.
    async fn connected(
        &self,
        mut conn: MultiplexedConnection,
        mut pushes: mpsc::UnboundedReceiver<PushInfo>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        let mut tick = tokio::time::interval(self.id.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        let mut batch = Vec::with_capacity(256);
        loop {
            tokio::select! {
                _ = until_stopped(stop) => return Ended::Stopped(conn),
                n = pushes.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        return Ended::Lost("connection closed".into());
                    }
                    for push in batch.drain(..) {
                        match push.kind {
                            PushKind::Message => self.on_message(push),
                            PushKind::Disconnection => {
                                return Ended::Lost("connection lost".into());
                            }
                            // The server dropped a subscription (an admin, a config change):
                            // a fresh link subscribes again.
                            PushKind::Unsubscribe => {
                                return Ended::Lost("the server dropped the subscription".into());
                            }
                            _ => {}
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(why) = self.ping(&mut conn).await {
                        return Ended::Lost(why);
                    }
                }
                _ = self.suspect.notified() => {
                    if let Err(why) = self.ping(&mut conn).await {
                        return Ended::Lost(why);
                    }
                }
            }
        }
    }

    async fn ping(&self, conn: &mut MultiplexedConnection) -> std::result::Result<(), String> {
        let limit = self.id.response_timeout;
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<Value>(conn);
        match tokio::time::timeout(limit, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("connection lost ({e})")),
            Err(_) => Err(format!(
                "no answer to the heartbeat within {}s",
                limit.as_secs_f32()
            )),
        }
    }

    fn on_message(&self, push: PushInfo) {
        let Some(msg) = redis::Msg::from_push_info(push) else {
            return;
        };
        let channel = msg.get_channel_name();
        let incoming = wire::decode(channel, msg.get_payload_bytes());
        if let Incoming::Chat(m) = &incoming {
            if m.durable
                && self.id.delivery == Delivery::Durable
                && channel == self.id.inbox
                && self.stream_readable.load(Ordering::Relaxed)
            {
                // The inbox reader shows it from the stream, in stream order.
                self.counters
                    .live_copies_skipped
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
            if !m.legacy && !self.seen().insert(&m.id) {
                self.counters
                    .duplicates_hidden
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.emit(incoming.into());
    }

    /// Sends the outbox, oldest first, whenever the link is up.
    ///
    /// A message leaves the outbox only when Redis confirmed it, or when Redis refuses it for
    /// a reason that will not pass by itself ([`is_permanent`]), or after it was refused for
    /// [`REFUSAL_BUDGET`] (a server that stays out of memory). Everything else (connection
    /// trouble, LOADING after a restart, OOM, a replica that is read-only during a failover)
    /// keeps it queued and tries again.
    async fn publish_outbox(self: Arc<Self>) {
        let mut link = self.link.subscribe();
        let mut stop = self.stop.subscribe();
        let mut one_at_a_time = false;
        // Since when the front message has been refused, and how many times.
        let mut refused: Option<(String, tokio::time::Instant, u32)> = None;
        loop {
            if self.stopped() {
                return;
            }
            let conn = link.borrow_and_update().clone();
            let Some(mut conn) = conn else {
                tokio::select! {
                    _ = link.changed() => {}
                    _ = until_stopped(&mut stop) => return,
                }
                continue;
            };
            let batch = self
                .outbox()
                .front(if one_at_a_time { 1 } else { SEND_BATCH });
            if batch.is_empty() {
                tokio::select! {
                    _ = self.outbox_changed.notified() => {}
                    _ = link.changed() => {}
                    _ = until_stopped(&mut stop) => return,
                }
                continue;
            }
            self.in_flight()
                .extend(batch.iter().map(|q| q.message.id.clone()));
            let sent =
                tokio::time::timeout(self.id.response_timeout, self.send_batch(&mut conn, &batch))
                    .await;
            // Confirmed ones stay "in flight" until confirmed, so `send` never reports a
            // timeout for a message that went out.
            if !matches!(sent, Ok(Ok(_))) {
                self.in_flight().clear();
            }
            let wait = match sent {
                Ok(Ok(receivers)) => {
                    one_at_a_time = false;
                    refused = None;
                    self.confirm(&batch, &receivers);
                    self.in_flight().clear();
                    continue;
                }
                Ok(Err(e)) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                    self.suspect.notify_one();
                    Duration::from_millis(250)
                }
                Err(_) => {
                    self.suspect.notify_one();
                    Duration::from_millis(250)
                }
                // Redis answered with an error: find the message it refuses (the others go
                // through), then decide whether the refusal can pass.
                Ok(Err(_)) if batch.len() > 1 => {
                    one_at_a_time = true;
                    continue;
                }
                Ok(Err(e)) => {
                    let front = &batch[0];
                    let (since, strikes) = match &refused {
                        Some((id, since, n)) if *id == front.message.id => (*since, n + 1),
                        _ => (tokio::time::Instant::now(), 1),
                    };
                    if is_permanent(&e) || since.elapsed() >= REFUSAL_BUDGET {
                        refused = None;
                        one_at_a_time = false;
                        self.fail(front, Error::from_redis(&e, &self.id.addr, self.id.tls));
                        continue;
                    }
                    tracing::info!("message refused for now ({e}); trying again");
                    if strikes == 1 {
                        self.emit(Event::Outgoing(Outgoing {
                            message: front.message.clone(),
                            state: OutgoingState::Queued,
                            receivers: None,
                            reason: Some(format!(
                                "the server refuses it for now ({e}); trying again"
                            )),
                        }));
                    }
                    refused = Some((front.message.id.clone(), since, strikes));
                    backoff(strikes, Duration::from_secs(2))
                }
            };
            tokio::select! {
                _ = link.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = until_stopped(&mut stop) => return,
            }
        }
    }

    /// One transaction: for each message XADD to the recipient's inbox and our sent stream
    /// (durable), and PUBLISH. Returns the receiver counts.
    async fn send_batch(
        &self,
        conn: &mut MultiplexedConnection,
        batch: &[Queued],
    ) -> redis::RedisResult<Vec<u64>> {
        let mut pipe = redis::pipe();
        if self.id.delivery == Delivery::LiveOnly {
            for q in batch {
                pipe.cmd("PUBLISH").arg(&q.message.channel).arg(&q.payload);
            }
            return pipe.query_async(conn).await;
        }
        pipe.atomic();
        for q in batch {
            for key in [q.inbox_stream.as_str(), self.id.sent_stream.as_str()] {
                pipe.cmd("XADD")
                    .arg(key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(self.id.stream_max_len)
                    .arg("*")
                    .arg(PAYLOAD_FIELD)
                    .arg(&q.payload);
            }
            pipe.cmd("PUBLISH").arg(&q.message.channel).arg(&q.payload);
        }
        let values: Vec<Value> = pipe.query_async(conn).await?;
        Ok(values
            .chunks(3)
            .map(|c| match c.get(2) {
                Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                _ => 0,
            })
            .collect())
    }

    fn confirm(&self, batch: &[Queued], receivers: &[u64]) {
        let ids: Vec<&str> = batch.iter().map(|q| q.message.id.as_str()).collect();
        self.outbox().remove(&ids);
        let stored = self.id.delivery == Delivery::Durable;
        for (q, &n) in batch.iter().zip(receivers) {
            let state = match (n, stored) {
                (1.., _) => OutgoingState::Delivered,
                (0, true) => OutgoingState::Stored,
                (0, false) => OutgoingState::NotDelivered,
            };
            if let Some(waiter) = self.waiters().remove(&q.message.id) {
                let _ = waiter.send(Ok(SendReport {
                    message: q.message.clone(),
                    receivers: n,
                    stored,
                }));
            }
            self.emit(Event::Outgoing(Outgoing {
                message: q.message.clone(),
                state,
                receivers: Some(n),
                reason: None,
            }));
        }
    }

    fn fail(&self, q: &Queued, error: Error) {
        tracing::warn!("message {} refused: {error}", q.message.id);
        let reason = error.to_string();
        self.outbox().fail(&q.message.id, &reason);
        if let Some(waiter) = self.waiters().remove(&q.message.id) {
            let _ = waiter.send(Err(error));
        }
        self.emit(Event::Outgoing(Outgoing {
            message: q.message.clone(),
            state: OutgoingState::Failed,
            receivers: None,
            reason: Some(reason),
        }));
    }

    /// Opens the inbox reader's own connection: blocking reads would stall every other
    /// command on a shared socket, and need a response timeout longer than the block.
    async fn open_reader(&self) -> redis::RedisResult<MultiplexedConnection> {
        let limit = self.id.connect_timeout.min(Duration::from_secs(5));
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(limit))
            .set_response_timeout(Some(READ_BLOCK + self.id.response_timeout));
        match tokio::time::timeout(
            limit + self.id.response_timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            ))),
        }
    }

    /// Checks the saved cursor against the stream after (re)connecting. A stream whose newest
    /// entry is older than the cursor was reset (restarted without persistence, restored
    /// from a backup, deleted): read it from the start; the remembered ids hide what was
    /// already shown, so there is no duplicate flood.
    async fn check_cursor(
        &self,
        conn: &mut MultiplexedConnection,
        cursor: &str,
    ) -> redis::RedisResult<(String, Option<u64>)> {
        let Some((cursor_ms, _)) = entry_id(cursor).filter(|id| *id != (0, 0)) else {
            return Ok(("0-0".into(), None));
        };
        let newest: Value = redis::cmd("XREVRANGE")
            .arg(&self.id.inbox_stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await?;
        let newest = inbox::entries(newest).pop().map(|e| e.id);
        match newest.as_deref() {
            Some(id) if entry_id(id) >= entry_id(cursor) => Ok((cursor.to_string(), None)),
            Some(_) => {
                self.emit(Event::Notice {
                    text: "The server's copy of your inbox is older than what this device has read (it lost data or was restored from a backup). Reading it again; messages already shown stay hidden.".into(),
                });
                // Everything sent before the cursor's time was read already (the stream is
                // read in order); hide it by its send time, not only by the remembered ids.
                Ok(("0-0".into(), Some(cursor_ms)))
            }
            // Gone (e.g. restarted without persistence): new entries may get any id.
            None => Ok(("0-0".into(), None)),
        }
    }

    /// Reads the inbox stream: catch-up from the saved cursor, then live, until stopped.
    async fn read_inbox(self: Arc<Self>, cursor_file: CursorFile, saved: Option<String>) {
        let mut cursor = saved.unwrap_or_else(|| "0-0".into());
        let mut link = self.link.subscribe();
        let mut stop = self.stop.subscribe();
        let mut conn: Option<MultiplexedConnection> = None;
        let mut failures: u32 = 0;
        let mut catch_up: Option<usize> = None;
        // After a stream reset: messages sent before this time (ms) were shown already.
        let mut hide_sent_before: Option<u64> = None;
        loop {
            if self.stopped() {
                return;
            }
            let reader = match &mut conn {
                Some(c) => c,
                None => {
                    // Open only while the main link is up: it tells us the server is there.
                    if link.borrow_and_update().is_none() {
                        tokio::select! {
                            _ = link.changed() => {}
                            _ = until_stopped(&mut stop) => return,
                        }
                        continue;
                    }
                    if failures > 0 {
                        tokio::select! {
                            _ = tokio::time::sleep(backoff(failures, self.id.max_retry_delay)) => {}
                            _ = until_stopped(&mut stop) => return,
                        }
                    }
                    let opened = async {
                        let mut c = self.open_reader().await?;
                        let checked = tokio::time::timeout(
                            self.id.response_timeout,
                            self.check_cursor(&mut c, &cursor),
                        )
                        .await
                        .map_err(|_| {
                            redis::RedisError::from(std::io::Error::from(
                                std::io::ErrorKind::TimedOut,
                            ))
                        })??;
                        Ok::<_, redis::RedisError>((c, checked))
                    };
                    match opened.await {
                        Ok((c, (checked, hide))) => {
                            cursor = checked;
                            hide_sent_before = hide;
                            failures = 0;
                            catch_up = Some(0);
                            conn.insert(c)
                        }
                        Err(e) if reader_refused(&e) => return self.stream_unreadable(&e),
                        Err(e) => {
                            tracing::info!("inbox reader cannot connect: {e}");
                            failures += 1;
                            self.suspect.notify_one();
                            continue;
                        }
                    }
                }
            };
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("COUNT").arg(READ_BATCH);
            // Catching up reads what is there without waiting: an empty answer means "caught
            // up", not "wait for the next message".
            if catch_up.is_none() {
                cmd.arg("BLOCK").arg(READ_BLOCK.as_millis() as u64);
            }
            cmd.arg("STREAMS").arg(&self.id.inbox_stream).arg(&cursor);
            let read = cmd.query_async::<Value>(reader);
            let reply = tokio::select! {
                reply = read => reply,
                _ = until_stopped(&mut stop) => return,
            };
            match reply {
                Ok(value) => {
                    let entries = inbox::read_reply(value);
                    let full = entries.len() >= READ_BATCH;
                    if let Some(last) = entries.last() {
                        cursor = last.id.clone();
                    }
                    let any = !entries.is_empty();
                    let shown = self.show_entries(entries, hide_sent_before);
                    if any {
                        cursor_file.save(&cursor, &self.seen());
                    }
                    if let Some(count) = &mut catch_up {
                        *count += shown;
                        if !full {
                            let count = *count;
                            self.counters
                                .caught_up
                                .fetch_add(count as u64, Ordering::Relaxed);
                            self.emit(Event::CaughtUp { count });
                            catch_up = None;
                        }
                    }
                }
                Err(e) if reader_refused(&e) => return self.stream_unreadable(&e),
                Err(e) => {
                    tracing::info!("inbox read failed: {e}");
                    conn = None;
                    failures += 1;
                    self.suspect.notify_one();
                }
            }
        }
    }

    /// The inbox stream cannot be read for good (the ACL user may not read it, the server has
    /// no streams): say so, and show durable messages from pub/sub from now on.
    fn stream_unreadable(&self, e: &redis::RedisError) {
        tracing::warn!("inbox stream unreadable: {e}");
        self.stream_readable.store(false, Ordering::Relaxed);
        self.emit(Event::Notice {
            text: format!(
                "Your inbox stream cannot be read ({e}). Messages that arrive while you are connected are shown; messages stored while you were away are not. Ask for read access to {} or use live-only delivery.",
                self.id.inbox_stream
            ),
        });
    }

    /// Shows stream entries not shown before; returns how many were shown. With
    /// `hide_sent_before` (after a stream reset), messages sent before that time (ms) count as
    /// shown already.
    fn show_entries(&self, entries: Vec<inbox::Entry>, hide_sent_before: Option<u64>) -> usize {
        let mut shown = 0;
        for entry in entries {
            let incoming = entry.decode(&self.id.inbox);
            if let Incoming::Chat(m) = &incoming {
                let sent_ms = m.sent_at_micros().map(|us| (us / 1_000) as u64);
                let old =
                    matches!((sent_ms, hide_sent_before), (Some(at), Some(before)) if at <= before);
                if old || !self.seen().insert(&m.id) {
                    self.counters
                        .duplicates_hidden
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            shown += 1;
            self.emit(incoming.into());
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let max = Duration::from_secs(1);
        for attempt in 1..40 {
            let d = backoff(attempt, max);
            let full = FIRST_RETRY_DELAY
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(10, max)).collect();
        assert!(spread.len() > 1, "jitter varies");
    }
}
