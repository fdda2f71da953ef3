//! The chat session: one task owns the Redis connection; callers hold a cheap [`Session`].
//!
//! ## Behavior
//! - One RESP3 connection per session, through redis-rs' `ConnectionManager` with a push
//!   sender and automatic resubscription: commands and pub/sub share the socket (one client
//!   on managed Redis instead of two), and after a reconnect the inbox SUBSCRIBE is replayed.
//! - A heartbeat PING (every [`SessionConfig::heartbeat`]) notices dead links, forces the
//!   manager to reconnect when it has given up (an idle manager does not come back on its
//!   own after a long outage), and keeps Azure's 10-minute idle timeout away.
//! - Status changes are [`Event`]s like messages, so the UI always shows the truth:
//!   `Connected` is only reported once the inbox subscription is confirmed.
//! - Every payload on the inbox becomes an event ([`crate::wire::decode`] never fails).
//! - [`Session::shutdown`] UNSUBSCRIBEs and closes the connection within a bounded time.
//!   Dropping every handle does the same, without waiting.
//! - Servers without RESP3 (Redis < 6) are refused at connect time with
//!   [`Error::UnsupportedServer`]; there is no RESP2 fallback.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, PushInfo, PushKind};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::compose::Draft;
use crate::error::{Error, Result};
use crate::settings::ConnectionSettings;
use crate::username::{Namespace, Username};
use crate::wire::{self, ChatMessage, Incoming, PlainText, Unreadable};

/// Default heartbeat period.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);

/// Everything needed to start a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to connect.
    pub settings: ConnectionSettings,
    /// Who we are; our inbox is `namespace + user`.
    pub user: Username,
    /// Inbox channel prefix (empty by default, like the original client).
    pub namespace: Namespace,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Channels to listen on besides the inbox, e.g. the original console client's shared
    /// `messages` channel. Their payloads are decoded like inbox payloads.
    pub extra_channels: Vec<String>,
}

impl SessionConfig {
    /// A config with the default namespace and heartbeat.
    pub fn new(settings: ConnectionSettings, user: Username) -> Self {
        SessionConfig {
            settings,
            user,
            namespace: Namespace::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            extra_channels: Vec::new(),
        }
    }
}

/// Connection state, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Connected and subscribed to the inbox.
    Connected,
    /// The link broke; the session is reconnecting on its own.
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
}

/// What leaves the session: messages and status changes, in order.
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

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReport {
    /// The message as sent.
    pub message: ChatMessage,
    /// PUBLISH's receiver count: 0 means nobody was listening and the message is gone. It is a
    /// hint, not presence: pattern subscribers and several devices all count.
    pub receivers: u64,
}

/// The receiving end of a session's events. Ends after the `Disconnected` status.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once the session has ended and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// An event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Waits for at least one event, then takes up to `limit` without waiting further.
    /// Returns 0 once the session has ended.
    pub async fn recv_many(&mut self, buf: &mut Vec<Event>, limit: usize) -> usize {
        self.rx.recv_many(buf, limit).await
    }
}

enum Command {
    Send {
        draft: Draft,
        reply: oneshot::Sender<Result<SendReport>>,
    },
    Publish {
        channel: String,
        text: String,
        reply: oneshot::Sender<Result<u64>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A cheap, cloneable handle to a running session.
#[derive(Debug, Clone)]
pub struct Session {
    commands: mpsc::Sender<Command>,
    inner: Arc<Identity>,
}

#[derive(Debug)]
struct Identity {
    user: Username,
    inbox: String,
    /// The inbox and any extra channels: everything we SUBSCRIBE to.
    channels: Vec<String>,
    addr: String,
    namespace: Namespace,
    response_timeout: Duration,
}

impl Session {
    /// Connects, subscribes to the inbox and starts the session task.
    ///
    /// Bounded by the settings' connect timeout. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Auth`], [`Error::Unreachable`], [`Error::Timeout`], [`Error::Tls`],
    /// [`Error::UnsupportedServer`] or [`Error::Redis`], each with a message for the user.
    pub async fn connect(config: SessionConfig) -> Result<(Session, Events)> {
        // rustls needs a process-wide crypto provider; a second install is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let settings = &config.settings;
        let addr = settings.addr();
        let classify = |e: redis::RedisError| Error::from_redis(&e, &addr, settings.tls);
        let timeout_error = || Error::Timeout {
            addr: addr.clone(),
            after: settings.connect_timeout,
        };
        let client =
            redis::Client::open(settings.connection_info().map_err(classify)?).map_err(classify)?;
        reach(settings).await?;

        // One plain attempt first: the manager retries every error (a wrong password six
        // times), while a single connection tells us at once what is wrong.
        let probe_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout));
        let probe = tokio::time::timeout(
            settings.connect_timeout,
            client.get_multiplexed_async_connection_with_config(&probe_config),
        )
        .await
        .map_err(|_| handshake_timeout(settings))?
        .map_err(|e| {
            if e.is_timeout() {
                handshake_timeout(settings)
            } else {
                classify(e)
            }
        })?;
        drop(probe);

        let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
        let manager_config = ConnectionManagerConfig::new()
            .set_push_sender(push_tx)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(settings.connect_timeout.min(Duration::from_secs(5))))
            .set_response_timeout(Some(settings.response_timeout))
            .set_max_delay(Duration::from_secs(2));
        let subscribe = async {
            let mut conn = ConnectionManager::new_with_config(client, manager_config).await?;
            conn.subscribe(config.namespace.inbox(&config.user)).await?;
            for channel in &config.extra_channels {
                conn.subscribe(channel).await?;
            }
            Ok::<_, redis::RedisError>(conn)
        };
        let conn = tokio::time::timeout(settings.connect_timeout, subscribe)
            .await
            .map_err(|_| timeout_error())?
            .map_err(classify)?;

        let identity = Arc::new(Identity {
            channels: std::iter::once(config.namespace.inbox(&config.user))
                .chain(config.extra_channels.iter().cloned())
                .collect(),
            inbox: config.namespace.inbox(&config.user),
            user: config.user.clone(),
            addr: addr.clone(),
            namespace: config.namespace.clone(),
            response_timeout: settings.response_timeout,
        });
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (publish_tx, publish_rx) = mpsc::unbounded_channel();
        let publisher = Publisher {
            conn: conn.clone(),
            identity: identity.clone(),
            tls: settings.tls,
        };
        tokio::spawn(publisher.run(publish_rx));
        let actor = Actor {
            conn,
            identity: identity.clone(),
            events: events_tx,
            publisher: publish_tx,
            healthy: true,
            tls: settings.tls,
        };
        actor.status(State::Connected, None);
        tokio::spawn(actor.run(commands_rx, push_rx, config.heartbeat));
        Ok((
            Session {
                commands: commands_tx,
                inner: identity,
            },
            Events { rx: events_rx },
        ))
    }

    /// Our username.
    pub fn user(&self) -> &Username {
        &self.inner.user
    }

    /// Our inbox channel.
    pub fn inbox(&self) -> &str {
        &self.inner.inbox
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Publishes `draft` to the recipient's inbox.
    ///
    /// Waits at most the response timeout plus a second.
    ///
    /// # Errors
    /// [`Error::NotConnected`] after shutdown, [`Error::Timeout`] or a connection error when
    /// the link is down (the message was not sent).
    pub async fn send(&self, draft: Draft) -> Result<SendReport> {
        self.request(|reply| Command::Send { draft, reply }).await
    }

    /// Hands a command to the session and waits (bounded) for its reply.
    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::NotConnected)?;
        let limit = self.inner.response_timeout + Duration::from_secs(1);
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => Err(Error::Timeout {
                addr: self.inner.addr.clone(),
                after: limit,
            }),
        }
    }

    /// Publishes `text` as is (no JSON) to `channel`, as the original console client did.
    /// Returns PUBLISH's receiver count.
    ///
    /// # Errors
    /// As [`Session::send`]; [`Error::MessageTooLarge`] above [`crate::MAX_CONTENT_BYTES`].
    pub async fn publish_text(&self, channel: &str, text: &str) -> Result<u64> {
        if text.len() > crate::MAX_CONTENT_BYTES {
            return Err(Error::MessageTooLarge {
                size: text.len(),
                limit: crate::MAX_CONTENT_BYTES,
            });
        }
        let (channel, text) = (channel.to_string(), text.to_string());
        self.request(|reply| Command::Publish {
            channel,
            text,
            reply,
        })
        .await
    }

    /// UNSUBSCRIBEs, closes the connection and ends the event stream, waiting at most
    /// `limit`. Idempotent.
    pub async fn shutdown(&self, limit: Duration) {
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(limit, done).await;
        }
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

/// Owns the receiving side: pushes, heartbeat, status, shutdown. Sends go to the
/// [`Publisher`], so a PUBLISH waiting for its reply never holds up incoming messages.
struct Actor {
    conn: ConnectionManager,
    identity: Arc<Identity>,
    events: mpsc::UnboundedSender<Event>,
    publisher: mpsc::UnboundedSender<Command>,
    healthy: bool,
    tls: bool,
}

impl Actor {
    fn status(&self, state: State, reason: Option<String>) {
        let _ = self.events.send(Event::Status(Status {
            state,
            user: self.identity.user.to_string(),
            addr: self.identity.addr.clone(),
            reason,
        }));
    }

    fn set_healthy(&mut self, healthy: bool, reason: impl FnOnce() -> String) {
        if healthy != self.healthy {
            self.healthy = healthy;
            if healthy {
                self.status(State::Connected, None);
            } else {
                self.status(State::Reconnecting, Some(reason()));
            }
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut pushes: mpsc::UnboundedReceiver<PushInfo>,
        heartbeat: Duration,
    ) {
        let mut tick = tokio::time::interval(heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(256);
        let shutdown_reply = loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command @ (Command::Send { .. } | Command::Publish { .. })) => {
                        let _ = self.publisher.send(command);
                    }
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    None => break None,
                },
                n = pushes.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        break None;
                    }
                    for push in batch.drain(..) {
                        self.on_push(push);
                    }
                }
                _ = tick.tick() => self.heartbeat().await,
            }
        };
        let limit = self.identity.response_timeout.min(Duration::from_secs(2));
        let _ = tokio::time::timeout(limit, self.conn.unsubscribe(&self.identity.channels)).await;
        drop(self.conn);
        let _ = self.events.send(Event::Status(Status {
            state: State::Disconnected,
            user: self.identity.user.to_string(),
            addr: self.identity.addr.clone(),
            reason: None,
        }));
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    fn on_push(&mut self, push: PushInfo) {
        match push.kind {
            PushKind::Message => {
                if let Some(msg) = redis::Msg::from_push_info(push) {
                    let event = wire::decode(msg.get_channel_name(), msg.get_payload_bytes());
                    let _ = self.events.send(event.into());
                }
            }
            PushKind::Disconnection => {
                self.set_healthy(false, || "connection lost; reconnecting".into());
            }
            // The manager replays SUBSCRIBE after reconnecting; its confirmation means the
            // inbox is live again.
            PushKind::Subscribe => self.set_healthy(true, String::new),
            // The server dropped our subscription (e.g. an admin ran CLIENT KILL or a
            // config change): ask again rather than going deaf silently.
            PushKind::Unsubscribe => {
                tracing::warn!("server unsubscribed the inbox; the next heartbeat resubscribes");
                self.healthy = false;
                self.status(
                    State::Reconnecting,
                    Some("subscription dropped by the server".into()),
                );
            }
            _ => {}
        }
    }

    async fn heartbeat(&mut self) {
        let limit = self.identity.response_timeout;
        let ping = tokio::time::timeout(
            limit,
            redis::cmd("PING").query_async::<String>(&mut self.conn),
        )
        .await;
        match ping {
            Ok(Ok(_)) if self.healthy => {}
            Ok(Ok(_)) => {
                // Reconnected. The manager resubscribes on reconnect; subscribing again is
                // idempotent and also covers a server-side UNSUBSCRIBE.
                let channels = self.identity.channels.clone();
                match tokio::time::timeout(limit, self.conn.subscribe(&channels)).await {
                    Ok(Ok(())) => self.set_healthy(true, String::new),
                    Ok(Err(e)) => tracing::warn!("resubscribe failed: {e}"),
                    Err(_) => tracing::warn!("resubscribe timed out"),
                }
            }
            Ok(Err(e)) => {
                let error = Error::from_redis(&e, &self.identity.addr, self.tls);
                self.set_healthy(false, || format!("{error}; reconnecting"));
            }
            Err(_) => {
                let secs = limit.as_secs_f32();
                self.set_healthy(false, || format!("no answer for {secs}s; reconnecting"));
            }
        }
    }
}

/// Sends, in the order they were asked for, on a clone of the session's connection.
struct Publisher {
    conn: ConnectionManager,
    identity: Arc<Identity>,
    tls: bool,
}

impl Publisher {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = commands.recv().await {
            match command {
                Command::Send { draft, reply } => {
                    let result = self.publish(draft).await;
                    let _ = reply.send(result);
                }
                Command::Publish {
                    channel,
                    text,
                    reply,
                } => {
                    let result = redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(text)
                        .query_async::<u64>(&mut self.conn)
                        .await
                        .map_err(|e| Error::from_redis(&e, &self.identity.addr, self.tls));
                    let _ = reply.send(result);
                }
                Command::Shutdown { reply } => {
                    let _ = reply.send(());
                }
            }
        }
    }

    async fn publish(&mut self, draft: Draft) -> Result<SendReport> {
        let channel = self.identity.namespace.inbox(&draft.to);
        let (message, payload) = wire::encode(
            self.identity.user.as_str(),
            draft.to.as_str(),
            &channel,
            &draft.content,
        )?;
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut self.conn)
            .await
            .map_err(|e| Error::from_redis(&e, &self.identity.addr, self.tls))?;
        Ok(SendReport { message, receivers })
    }
}
