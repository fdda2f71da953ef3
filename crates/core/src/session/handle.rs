//! [`Session`]: the cheap handle callers hold. It starts the tasks, then only sends them
//! commands; it shares no mutable state with them.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Conn;
use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::config::{SessionConfig, Setup};
use super::events::{Counters, Emitter, Event, Events, Outgoing, OutgoingState, SendReport, Stats};
use super::inbound::{Inbound, InboundTask};
use super::publisher::{self, Publisher};
use super::readers::{self, Reader};
use super::shutdown::{self, Shutdown};
use super::supervisor::{self, Supervisor};
use super::target::Target;
use super::{Delivery, effects, link};
use crate::archive::Archive;
use crate::compose::Draft;
use crate::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::outbox::{Outbox, Queued};
use crate::presence::{self, PresenceTask};
use crate::store::{self, CursorFile, DirLock};
use crate::trust::People;
use crate::username::Username;
use crate::wire::{self, ChatMessage, Signal};

/// Typing signals go out at most this often per conversation.
pub const TYPING_EVERY: Duration = Duration::from_secs(3);

/// A cheap, cloneable handle to a running session. Dropping the last handle stops it.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    setup: Arc<Setup>,
    counters: Arc<Counters>,
    link: watch::Receiver<Option<Conn>>,
    queued: watch::Receiver<usize>,
    joined: watch::Receiver<Vec<ConversationId>>,
    supervisor: mpsc::UnboundedSender<supervisor::Command>,
    publisher: mpsc::UnboundedSender<publisher::Command>,
    reader: mpsc::UnboundedSender<readers::Command>,
    presence: mpsc::UnboundedSender<presence::Command>,
    inbound: super::queue::InboundSender,
    stop: watch::Sender<bool>,
    finished: watch::Receiver<bool>,
    /// When we last sent a typing signal per conversation (only the handle touches it).
    typing: Mutex<HashMap<ConversationId, Instant>>,
    /// The local message store (with a data directory).
    archive: Option<Archive>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
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
        let settings = &config.settings;
        let target = Arc::new(Target::new(settings)?);
        let dir = config
            .data_dir
            .as_ref()
            .map(|d| store::session_dir(d, settings, &config.namespace, &config.user));
        // One Redchat per user and data directory: a second one would send the same outbox.
        let lock = dir.as_deref().map(DirLock::take).transpose()?;
        let (outbox, cursor_file) = match &dir {
            Some(dir) => {
                let outbox = Outbox::open(&dir.join("outbox.jsonl")).map_err(|e| {
                    Error::Storage(format!("cannot open the outbox in {}: {e}", dir.display()))
                })?;
                (outbox, CursorFile::new(Some(dir.join("cursors.json"))))
            }
            None => (Outbox::in_memory(), CursorFile::new(None)),
        };
        let (identity, key_storage) = match &config.identity {
            Some((identity, storage)) => (identity.clone(), storage.clone()),
            None => {
                let (identity, storage) = crate::identity::load_or_create(dir.as_deref(), None)?;
                (Arc::new(identity), storage)
            }
        };
        let people = People::open(dir.as_ref().map(|d| d.join("people.json")));
        let setup = Arc::new(Setup::new(&config, identity, key_storage));
        let keys = &setup.keys;
        let mut channels: BTreeSet<String> = [
            keys.inbox_channel(&setup.user),
            keys.signal_channel(&setup.user),
            keys.presence_channel(),
        ]
        .into_iter()
        .chain(setup.extra_channels.iter().cloned())
        .collect();
        channels.retain(|c| !c.is_empty());
        let list: Vec<String> = channels.iter().cloned().collect();

        let (first, first_error, server) = match link::first_link(&target, &setup, &list).await {
            Ok((link, current)) => {
                let nodes = if link.0.is_cluster() {
                    link.0.nodes()
                } else {
                    current.nodes
                };
                (Some(link), None, (current.settings.addr(), nodes))
            }
            Err(e) if config.keep_trying && e.is_retryable() => {
                (None, Some(e.to_string()), (settings.addr(), 0))
            }
            Err(e) => return Err(e),
        };

        // Every message seen is stored on this device too (never fatal: see `archive`).
        let archive = dir.as_deref().map(Archive::open);
        let (events, events_rx) = Emitter::channel(archive.clone());
        if let Some(archive) = &archive {
            for text in archive.take_notices() {
                events.notice(super::events::NoticeCode::LocalStore, text);
            }
        }
        let counters = Arc::new(Counters::default());
        let (link_tx, link_rx) = watch::channel(first.as_ref().map(|(c, _)| c.clone()));
        let (queued_tx, queued_rx) = watch::channel(outbox.len());
        let (joined_tx, joined_rx) = watch::channel(Vec::<ConversationId>::new());
        let (stop, shutdown) = Shutdown::new();
        let (done, mut all_done) = shutdown::completion();
        let (sup_tx, sup_rx) = mpsc::unbounded_channel();
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let (read_tx, read_rx) = mpsc::unbounded_channel();
        let (presence_tx, presence_rx) = presence::commands();
        let (inbound_tx, inbound_rx, inbound_gauge) = super::queue::inbound();
        let (effects_tx, effects_rx) = mpsc::unbounded_channel();
        let effects_gauge = Arc::new(super::queue::Gauge::default());

        // Messages left in the outbox by an earlier run: show them as queued or failed.
        for q in outbox.all() {
            events.emit(Event::Outgoing(Outgoing {
                message: q.message,
                state: OutgoingState::Queued,
                receivers: None,
                reason: None,
            }));
        }
        for (q, reason) in outbox.failed().to_vec() {
            events.emit(Event::Outgoing(Outgoing {
                message: q.message,
                state: OutgoingState::Failed,
                receivers: None,
                reason: Some(reason),
            }));
        }
        let saved = cursor_file.load();
        let inbound_task = InboundTask::new(
            setup.clone(),
            events.clone(),
            counters.clone(),
            joined_rx.clone(),
            cursor_file,
            saved.recent,
            saved.streams.clone(),
            people,
            (effects_tx, effects_gauge.clone()),
            inbound_gauge,
        );
        spawn(done.clone(), inbound_task.run(inbound_rx, shutdown.clone()));
        let publisher = Publisher {
            setup: setup.clone(),
            events: events.clone(),
            outbox,
            link: link_rx.clone(),
            supervisor: sup_tx.clone(),
            inbound: inbound_tx.clone(),
            queued: queued_tx,
            commands: pub_rx,
            shutdown: shutdown.clone(),
            waiters: HashMap::new(),
            replica_pause: Arc::default(),
            target: target.clone(),
        };
        spawn(done.clone(), publisher.run());
        let reader = Reader {
            setup: setup.clone(),
            target: target.clone(),
            events: events.clone(),
            link: link_rx.clone(),
            supervisor: sup_tx.clone(),
            inbound: inbound_tx.clone(),
            joined: joined_tx,
            cursors: saved.streams,
            joined_at: Default::default(),
            commands: read_rx,
            shutdown: shutdown.clone(),
            left_out: Default::default(),
        };
        spawn(done.clone(), reader.run());
        let presence_task = PresenceTask {
            setup: setup.clone(),
            events: events.clone(),
            link: link_rx.clone(),
            joined: joined_rx.clone(),
            commands: presence_rx,
            shutdown: shutdown.clone(),
            known: HashMap::new(),
            who: Vec::new(),
            members: Default::default(),
            hinted: Default::default(),
        };
        spawn(done.clone(), presence_task.run());
        spawn(
            done.clone(),
            effects::run(
                setup.clone(),
                effects_rx,
                link_rx.clone(),
                read_tx.clone(),
                presence_tx.clone(),
                effects_gauge,
                shutdown.clone(),
            ),
        );
        if settings.sentinel().is_some() {
            spawn(
                done.clone(),
                follow_failovers(settings.clone(), sup_tx.clone(), shutdown.clone()),
            );
        }
        drop(done);
        let supervisor_task = Supervisor {
            setup: setup.clone(),
            target,
            server,
            events,
            counters: counters.clone(),
            link: link_tx,
            queued: queued_rx.clone(),
            inbound: inbound_tx.clone(),
            channels,
            commands: sup_rx,
            shutdown,
        };
        let (finished_tx, finished_rx) = watch::channel(false);
        tokio::spawn(async move {
            supervisor_task
                .run(first, first_error, async move { all_done.wait().await })
                .await;
            // Every task has ended: another Redchat may use the directory now.
            drop(lock);
            finished_tx.send_replace(true);
        });
        Ok((
            Session {
                inner: Arc::new(Handle {
                    setup,
                    counters,
                    link: link_rx,
                    queued: queued_rx,
                    joined: joined_rx,
                    supervisor: sup_tx,
                    publisher: pub_tx,
                    reader: read_tx,
                    presence: presence_tx,
                    inbound: inbound_tx,
                    stop,
                    finished: finished_rx,
                    typing: Mutex::new(HashMap::new()),
                    archive,
                }),
            },
            events_rx,
        ))
    }

    fn setup(&self) -> &Setup {
        &self.inner.setup
    }

    pub(crate) fn setup_ref(&self) -> &Setup {
        &self.inner.setup
    }

    pub(crate) fn inbound_sender(&self) -> &super::queue::InboundSender {
        &self.inner.inbound
    }

    pub(crate) fn reader_sender(&self) -> &mpsc::UnboundedSender<readers::Command> {
        &self.inner.reader
    }

    pub(crate) fn presence_sender(&self) -> &mpsc::UnboundedSender<presence::Command> {
        &self.inner.presence
    }

    /// Our username.
    pub fn user(&self) -> &Username {
        &self.inner.setup.user
    }

    /// Our inbox channel.
    pub fn inbox(&self) -> String {
        self.setup().inbox()
    }

    /// `host:port` of the server as configured: behind Sentinel the first sentinel (the
    /// master it names is in each [`Status`](crate::Status)'s `addr`).
    pub fn addr(&self) -> &str {
        &self.inner.setup.addr
    }

    /// The delivery mode.
    pub fn delivery(&self) -> Delivery {
        self.inner.setup.delivery
    }

    /// Whether our presence is shared.
    pub fn shares_presence(&self) -> bool {
        self.inner.setup.share_presence
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The main link is up (connected and subscribed).
    pub fn is_connected(&self) -> bool {
        self.inner.link.borrow().is_some()
    }

    /// Messages waiting in the outbox.
    pub fn queued(&self) -> usize {
        *self.inner.queued.borrow()
    }

    /// The rooms and channels we are in.
    pub fn joined(&self) -> Vec<ConversationId> {
        self.inner.joined.borrow().clone()
    }

    fn stopped(&self) -> bool {
        *self.inner.stop.borrow()
    }

    pub(crate) fn current_link(&self) -> Result<Conn> {
        if self.stopped() {
            return Err(Error::NotConnected);
        }
        self.inner.link.borrow().clone().ok_or(Error::NotConnected)
    }

    pub(crate) async fn bounded<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T> {
        let mut conn = self.current_link()?;
        let limit = self.setup().response_timeout;
        match tokio::time::timeout(limit, pipe.query_async::<T>(&mut conn)).await {
            Ok(r) => r.map_err(|e| self.setup().redis_error(&e)),
            Err(_) => {
                let _ = self.inner.supervisor.send(supervisor::Command::Suspect);
                Err(self.setup().timeout(limit))
            }
        }
    }

    fn queued_for(&self, draft: Draft) -> Result<Queued> {
        let setup = self.setup();
        let keys = &setup.keys;
        let durable = setup.durable();
        let channel = keys.channel_of(&draft.to);
        let me = setup.user.as_str();
        Ok(match &draft.to {
            ConversationId::Channel(_) => {
                let text = format!("{me}: {}", draft.content);
                let (mut message, _) = wire::encode_chat(
                    me,
                    &draft.to,
                    &channel,
                    &draft.content,
                    false,
                    Some(&setup.identity),
                )?;
                message.durable = false;
                Queued {
                    message,
                    stream: None,
                    copy_to: None,
                    payload: text,
                }
            }
            conversation => {
                let (message, payload) = wire::encode_chat(
                    me,
                    conversation,
                    &channel,
                    &draft.content,
                    durable,
                    Some(&setup.identity),
                )?;
                let (stream, copy_to) = match conversation {
                    ConversationId::Direct(peer) if durable => (
                        Some(keys.inbox_stream(peer)),
                        Some(keys.sent_stream(&setup.user)),
                    ),
                    ConversationId::Room(room) if durable => (Some(keys.room_stream(room)), None),
                    _ => (None, None),
                };
                Queued {
                    message,
                    stream,
                    copy_to,
                    payload: String::from_utf8(payload).expect("JSON is UTF-8"),
                }
            }
        })
    }

    async fn submit_with(
        &self,
        draft: Draft,
        waiter: Option<publisher::Waiter>,
    ) -> Result<ChatMessage> {
        if self.stopped() {
            return Err(Error::NotConnected);
        }
        let queued = self.queued_for(draft)?;
        let message = queued.message.clone();
        if let ConversationId::Direct(peer) = &message.conversation {
            self.note_contact(peer);
        }
        if let ConversationId::Channel(c) = &message.conversation {
            let _ = self.inner.inbound.send(Inbound::SentPlain {
                channel: c.clone(),
                text: queued.payload.clone(),
            });
        }
        let (accepted, answer) = oneshot::channel();
        self.inner
            .publisher
            .send(publisher::Command::Submit {
                queued: Box::new(queued),
                waiter,
                accepted,
            })
            .map_err(|_| Error::NotConnected)?;
        answer.await.map_err(|_| Error::NotConnected)??;
        Ok(message)
    }

    /// Puts `draft` in the outbox (on disk, when there is a data directory) and returns at
    /// once; [`Event::Outgoing`] reports how it went. Sent in order, as soon as the link is up.
    ///
    /// # Errors
    /// [`Error::NotConnected`] after shutdown; [`Error::MessageTooLarge`];
    /// [`Error::Storage`] when the outbox file cannot be written (nothing was queued).
    pub async fn submit(&self, draft: Draft) -> Result<ChatMessage> {
        self.submit_with(draft, None).await
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
        let message = self.submit_with(draft, Some(reply)).await?;
        let limit = self.setup().response_timeout + Duration::from_secs(1);
        loop {
            match tokio::time::timeout(limit, &mut answer).await {
                Ok(Ok(result)) => return result,
                Ok(Err(_)) => return Err(Error::NotConnected),
                Err(_) => {
                    let (done, taken) = oneshot::channel();
                    let _ = self.inner.publisher.send(publisher::Command::Withdraw {
                        id: message.id.clone(),
                        done,
                    });
                    // On its way: the publisher's own bounded wait decides; wait for it.
                    if taken.await.unwrap_or(true) {
                        return Err(self.setup().timeout(limit));
                    }
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
        let (done, answer) = oneshot::channel();
        self.inner
            .publisher
            .send(publisher::Command::Retry {
                id: message_id.to_string(),
                done,
            })
            .map_err(|_| Error::NotConnected)?;
        answer.await.map_err(|_| Error::NotConnected)?
    }

    /// Reconnects now instead of waiting for the next attempt.
    pub fn retry_now(&self) {
        let _ = self.inner.supervisor.send(supervisor::Command::RetryNow);
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
        let _ = self.inner.inbound.send(Inbound::SentPlain {
            channel: channel.to_string(),
            text: text.to_string(),
        });
        let mut pipe = redis::pipe();
        pipe.cmd("PUBLISH").arg(channel).arg(text);
        let (n,): (u64,) = self.bounded(&pipe).await?;
        Ok(n)
    }

    /// Marks `conversation` read up to its newest message, here and on our other devices
    /// ([`Event::Unread`] follows).
    pub fn mark_read(&self, conversation: &ConversationId) {
        let _ = self
            .inner
            .inbound
            .send(Inbound::MarkRead(conversation.clone()));
    }

    /// Tells the others in `conversation` that we are typing: at most once per
    /// [`TYPING_EVERY`]; never stored; not for raw channels. Returns whether a signal went out.
    pub fn typing(&self, conversation: &ConversationId) -> bool {
        let setup = &self.inner.setup;
        let (channel, signal) = match conversation {
            ConversationId::Direct(peer) => (
                setup.keys.signal_channel(peer),
                Signal::Typing {
                    to: Some(peer.as_str()),
                    room: None,
                },
            ),
            ConversationId::Room(room) => (
                setup.keys.room_channel(room),
                Signal::Typing {
                    to: None,
                    room: Some(room.as_str()),
                },
            ),
            ConversationId::Channel(_) => return false,
        };
        {
            let now = Instant::now();
            let mut last = self.inner.typing.lock().expect("typing lock");
            if last
                .get(conversation)
                .is_some_and(|t| now.duration_since(*t) < TYPING_EVERY)
            {
                return false;
            }
            last.insert(conversation.clone(), now);
        }
        let payload = wire::encode_signal(setup.user.as_str(), &signal, None);
        let Ok(mut conn) = self.current_link() else {
            return false;
        };
        let limit = setup.response_timeout;
        tokio::spawn(async move {
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(channel).arg(payload);
            let _ = tokio::time::timeout(limit, cmd.query_async::<Value>(&mut conn)).await;
        });
        true
    }

    /// Stops: says goodbye (presence), UNSUBSCRIBEs, closes the connections and ends the
    /// event stream, waiting at most `limit`. Queued messages stay in the outbox file for the
    /// next session. Idempotent.
    pub async fn shutdown(&self, limit: Duration) {
        self.inner.stop.send_replace(true);
        let mut finished = self.inner.finished.clone();
        let started = Instant::now();
        let _ = tokio::time::timeout(limit, async {
            let _ = finished.wait_for(|f| *f).await;
        })
        .await;
        // What waits for the local store is written before the process ends.
        if let Some(archive) = self.inner.archive.clone() {
            let left = limit
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(500));
            let _ = tokio::task::spawn_blocking(move || archive.flush(left)).await;
        }
    }

    /// The local message store, when the session has a data directory.
    pub fn archive(&self) -> Option<&Archive> {
        self.inner.archive.as_ref()
    }
}

fn spawn(done: shutdown::Done, task: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(async move {
        task.await;
        drop(done);
    });
}

/// Tells the supervisor of every `+switch-master` a sentinel announces, until shutdown.
async fn follow_failovers(
    settings: crate::settings::ConnectionSettings,
    supervisor: mpsc::UnboundedSender<super::supervisor::Command>,
    mut shutdown: Shutdown,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watch = tokio::spawn(crate::sentinel::watch_switches(settings, tx));
    loop {
        tokio::select! {
            to = rx.recv() => match to {
                Some(to) => {
                    tracing::info!("a sentinel announces a new master: {to}");
                    let _ = supervisor.send(super::supervisor::Command::Failover(to));
                }
                None => break,
            },
            _ = shutdown.recv() => break,
        }
    }
    watch.abort();
}
