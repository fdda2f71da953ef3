//! The publisher owns the outbox: it accepts messages (on disk before `submit` returns),
//! sends them in order, in batches, on the main link, and reports how each went.
//!
//! A message leaves the outbox only when Redis confirmed it, or when Redis refuses it for a
//! reason that will not pass by itself (WRONGTYPE, NOPERM), or after it was refused for
//! [`REFUSAL_BUDGET`] (a server that stays out of memory). Connection trouble, LOADING after
//! a restart, OOM, a read-only replica during a failover keep it queued.
//!
//! Each message is its own commands in one pipeline (no transaction: the target stream and
//! our sent stream live in different cluster slots): `XADD <target stream>`, `PUBLISH`, and
//! for a direct message `XADD <our sent stream>`. A partial failure is retried whole; the
//! recipient hides the second copy by its id.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Conn;
use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::backoff::backoff;
use super::config::Setup;
use super::events::{Emitter, Event, Outgoing, OutgoingState, SendReport};
use super::inbound::Inbound;
use super::shutdown::Shutdown;
use super::supervisor;
use crate::error::{Error, Result, redis_refusal};
use crate::inbox::PAYLOAD_FIELD;
use crate::outbox::{Outbox, Queued};

/// Messages per pipeline when sending the outbox.
const SEND_BATCH: usize = 64;
/// Behind Sentinel, how long batches go without `WAIT` after no replica confirmed one.
const REPLICA_PAUSE: Duration = Duration::from_secs(5);
/// How long a message may be refused for a reason that can pass before it is failed.
const REFUSAL_BUDGET: Duration = Duration::from_secs(30);

pub(crate) type Waiter = oneshot::Sender<Result<SendReport>>;

/// What the handle asks of the publisher.
#[derive(Debug)]
pub(crate) enum Command {
    /// Accept a message; `accepted` says whether it is in the outbox (on disk).
    Submit {
        queued: Box<Queued>,
        waiter: Option<Waiter>,
        accepted: oneshot::Sender<Result<()>>,
    },
    /// Queue a failed message again (id or unique prefix).
    Retry {
        id: String,
        done: oneshot::Sender<Result<()>>,
    },
    /// Take a message back unless it is on its way; answers whether it was taken back.
    Withdraw {
        id: String,
        done: oneshot::Sender<bool>,
    },
}

type Sending = Pin<
    Box<
        dyn Future<
                Output = std::result::Result<
                    redis::RedisResult<Vec<Sent>>,
                    tokio::time::error::Elapsed,
                >,
            > + Send,
    >,
>;

/// The publisher's state.
pub(crate) struct Publisher {
    pub setup: Arc<Setup>,
    pub events: Emitter,
    pub outbox: Outbox,
    pub link: watch::Receiver<Option<Conn>>,
    pub supervisor: mpsc::UnboundedSender<supervisor::Command>,
    pub inbound: super::queue::InboundSender,
    /// Outbox length, for status lines.
    pub queued: watch::Sender<usize>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
    /// Callers of `send` waiting for the outcome.
    pub waiters: HashMap<String, Waiter>,
    /// Behind Sentinel: no replica confirmed a batch, so batches do not wait for one until
    /// then (a master without replicas would otherwise slow every batch by the bound).
    pub replica_pause: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    /// What the session talks to: behind Sentinel, whether any replica is up to wait for.
    pub target: Arc<super::target::Target>,
}

impl Publisher {
    fn outgoing(
        &self,
        q: &Queued,
        state: OutgoingState,
        receivers: Option<u64>,
        reason: Option<String>,
    ) {
        self.events.emit(Event::Outgoing(Outgoing {
            message: q.message.clone(),
            state,
            receivers,
            reason,
        }));
    }

    fn accept(&mut self, queued: Queued) -> Result<()> {
        self.outbox.push(queued.clone()).map_err(|e| {
            Error::Storage(format!("could not save the message in the outbox: {e}"))
        })?;
        let _ = self.inbound.send(Inbound::Sent {
            id: queued.message.id.clone(),
        });
        self.queued.send_replace(self.outbox.len());
        Ok(())
    }

    fn command(&mut self, cmd: Command, in_flight: &HashSet<String>) {
        match cmd {
            Command::Submit {
                queued,
                waiter,
                accepted,
            } => {
                let id = queued.message.id.clone();
                let result = self.accept(*queued);
                if result.is_ok()
                    && let Some(w) = waiter
                {
                    self.waiters.insert(id, w);
                }
                let _ = accepted.send(result);
            }
            Command::Retry { id, done } => {
                let result = match self.outbox.find_failed(&id) {
                    None => Err(Error::InvalidMessage(
                        "no failed message with that id".into(),
                    )),
                    Some(q) => self.accept(q.clone()).map(|()| {
                        self.outgoing(&q, OutgoingState::Queued, None, None);
                    }),
                };
                let _ = done.send(result);
            }
            Command::Withdraw { id, done } => {
                let taken = !in_flight.contains(&id);
                if taken {
                    self.waiters.remove(&id);
                    self.outbox.remove(&[&id]);
                    self.queued.send_replace(self.outbox.len());
                }
                let _ = done.send(taken);
            }
        }
    }

    /// Runs until shutdown. Commands are served while a batch is on its way.
    pub async fn run(mut self) {
        // Since when the front message has been refused, and how many times.
        let mut refused: Option<(String, tokio::time::Instant, u32)> = None;
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut sending: Option<(Vec<Queued>, Sending)> = None;
        let mut pause: Option<Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            if sending.is_none() && pause.is_none() {
                let conn = self.link.borrow_and_update().clone();
                if let Some(conn) = conn {
                    let batch = self.outbox.front(SEND_BATCH);
                    if !batch.is_empty() {
                        in_flight.extend(batch.iter().map(|q| q.message.id.clone()));
                        let limit = self.setup.response_timeout;
                        let fut = tokio::time::timeout(
                            limit,
                            send_batch(
                                conn,
                                self.setup.clone(),
                                batch.clone(),
                                self.replica_pause.clone(),
                                self.target.current().is_some_and(|c| c.nodes > 1),
                            ),
                        );
                        sending = Some((batch, Box::pin(fut)));
                    }
                }
            }
            tokio::select! {
                _ = self.shutdown.recv() => break,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd, &in_flight),
                    None => break,
                },
                _ = self.link.changed(), if sending.is_none() => {
                    pause = None;
                }
                _ = async { pause.as_mut().expect("guarded").await }, if pause.is_some() => {
                    pause = None;
                }
                sent = async { sending.as_mut().expect("guarded").1.as_mut().await }, if sending.is_some() => {
                    let (batch, _) = sending.take().expect("guarded");
                    in_flight.clear();
                    let wait = match sent {
                        Ok(Ok(outcomes)) => match self.settle(&batch, outcomes, &mut refused) {
                            None => continue,
                            Some(wait) => wait,
                        },
                        Ok(Err(e)) if redis_refusal::is_link_failure(&e) => {
                            let _ = self.supervisor.send(supervisor::Command::Suspect);
                            Duration::from_millis(250)
                        }
                        Err(_) => {
                            let _ = self.supervisor.send(supervisor::Command::Suspect);
                            Duration::from_millis(250)
                        }
                        Ok(Err(e)) => {
                            tracing::info!("the batch was refused ({e}); trying again");
                            Duration::from_millis(250)
                        }
                    };
                    pause = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
        }
        for (_, waiter) in self.waiters.drain() {
            let _ = waiter.send(Err(Error::NotConnected));
        }
    }

    /// Settles a batch's outcomes: confirmed messages leave the outbox, a refusal that will
    /// not pass fails its message at once (the others are not held up), one that may pass
    /// keeps it (and what follows it) queued. Returns how long to wait before sending again.
    fn settle(
        &mut self,
        batch: &[Queued],
        outcomes: Vec<Sent>,
        refused: &mut Option<(String, tokio::time::Instant, u32)>,
    ) -> Option<Duration> {
        let mut confirmed = Vec::new();
        for (q, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Sent::Done(n) => confirmed.push((q.clone(), n)),
                Sent::Refused(e) => {
                    let (since, strikes) = match &*refused {
                        Some((id, since, n)) if *id == q.message.id => (*since, n + 1),
                        _ => (tokio::time::Instant::now(), 1),
                    };
                    if redis_refusal::is_permanent(&e) || since.elapsed() >= REFUSAL_BUDGET {
                        *refused = None;
                        let error = self.setup.redis_error(&e);
                        let error = match &q.stream {
                            Some(key) => error.about_key(key),
                            None => error,
                        };
                        self.fail(q, error);
                        continue;
                    }
                    // A refusal that may pass (out of memory, loading): keep order, wait.
                    self.confirm(&confirmed);
                    tracing::info!("message refused for now ({e}); trying again");
                    if strikes == 1 {
                        self.outgoing(
                            q,
                            OutgoingState::Queued,
                            None,
                            Some(format!("the server refuses it for now ({e}); trying again")),
                        );
                    }
                    *refused = Some((q.message.id.clone(), since, strikes));
                    return Some(backoff(strikes, Duration::from_secs(2)));
                }
            }
        }
        *refused = None;
        self.confirm(&confirmed);
        None
    }

    fn confirm(&mut self, confirmed: &[(Queued, u64)]) {
        if confirmed.is_empty() {
            return;
        }
        let ids: Vec<&str> = confirmed
            .iter()
            .map(|(q, _)| q.message.id.as_str())
            .collect();
        self.outbox.remove(&ids);
        self.queued.send_replace(self.outbox.len());
        for (q, n) in confirmed {
            let n = *n;
            let stored = q.stream.is_some();
            let state = match (n, stored) {
                (1.., _) => OutgoingState::Delivered,
                (0, true) => OutgoingState::Stored,
                (0, false) => OutgoingState::NotDelivered,
            };
            if let Some(waiter) = self.waiters.remove(&q.message.id) {
                let _ = waiter.send(Ok(SendReport {
                    message: q.message.clone(),
                    receivers: n,
                    stored,
                }));
            }
            self.outgoing(q, state, Some(n), None);
        }
    }

    fn fail(&mut self, q: &Queued, error: Error) {
        tracing::warn!("message {} refused: {error}", q.message.id);
        let reason = error.to_string();
        self.outbox.fail(&q.message.id, &reason);
        self.queued.send_replace(self.outbox.len());
        if let Some(waiter) = self.waiters.remove(&q.message.id) {
            let _ = waiter.send(Err(error));
        }
        self.outgoing(q, OutgoingState::Failed, None, Some(reason));
    }
}

/// How one message of a batch went.
#[derive(Debug)]
pub(crate) enum Sent {
    /// Confirmed: PUBLISH's receiver count.
    Done(u64),
    /// Redis refused its target write; copies it left were removed.
    Refused(redis::RedisError),
}

/// One pipeline for the batch (errors do not stop it: each message gets its own outcome).
/// A message whose target write is refused fails, and its copy in our sent stream is
/// deleted again, so a refusal never leaves extra stored copies (its PUBLISH, in the same
/// pipeline, still goes out: durable readers skip such live copies).
async fn send_batch(
    mut conn: Conn,
    setup: Arc<Setup>,
    batch: Vec<Queued>,
    replica_pause: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    replicas_up: bool,
) -> redis::RedisResult<Vec<Sent>> {
    let xadd = |pipe: &mut redis::Pipeline, key: &str, payload: &str| {
        pipe.cmd("XADD")
            .arg(key)
            .arg("MAXLEN")
            .arg("~")
            .arg(setup.stream_max_len)
            .arg("*")
            .arg(PAYLOAD_FIELD)
            .arg(payload);
    };
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    // Per message: (index of the target XADD, of PUBLISH, of the sent-stream XADD).
    let mut slots = Vec::with_capacity(batch.len());
    for q in &batch {
        let target = q.stream.as_ref().map(|key| {
            xadd(&mut pipe, key, &q.payload);
            pipe.cmd_iter().count() - 1
        });
        // On a cluster a keyless PUBLISH runs on the node of the command before it, and
        // counts only that node's subscribers: right after the recipient's stream write it
        // runs where the recipient subscribes its inbox (the primary of its inbox slot).
        // Live only, a DM has no stream write: a read of the recipient's inbox stream key
        // routes it there.
        if target.is_none()
            && conn.is_cluster()
            && let crate::conversation::ConversationId::Direct(to) = &q.message.conversation
        {
            pipe.cmd("EXISTS").arg(setup.keys.inbox_stream(to));
        }
        pipe.cmd("PUBLISH").arg(&q.message.channel).arg(&q.payload);
        let publish = pipe.cmd_iter().count() - 1;
        let copy = q.copy_to.as_ref().map(|key| {
            xadd(&mut pipe, key, &q.payload);
            pipe.cmd_iter().count() - 1
        });
        slots.push((target, publish, copy));
    }
    let paused = replica_pause
        .lock()
        .ok()
        .and_then(|p| *p)
        .is_some_and(|until| tokio::time::Instant::now() < until);
    let wait = setup.replicated
        && replicas_up
        && !paused
        && slots.iter().any(|(t, _, c)| t.is_some() || c.is_some());
    if wait {
        // Answered once one replica has every write above (or after the bound): a failover
        // promotes that replica, so a stored message stays stored. When none confirms in
        // time (no replica up), batches stop waiting for REPLICA_PAUSE (docs/delivery.md).
        pipe.cmd("WAIT")
            .arg(1)
            .arg(replica_wait(&setup).as_millis() as u64);
    }
    let values: Vec<Value> = pipe.query_async(&mut conn).await?;
    if wait && let Some(Value::Int(0)) = values.last() {
        tracing::info!(
            "no replica confirmed the last batch in time; not waiting for one for a while"
        );
        if let Ok(mut p) = replica_pause.lock() {
            *p = Some(tokio::time::Instant::now() + REPLICA_PAUSE);
        }
    }
    let error_at = |i: usize| match values.get(i) {
        Some(Value::ServerError(e)) => Some(redis::RedisError::from(e.clone())),
        None => Some(redis::RedisError::from(std::io::Error::other(
            "short pipeline reply",
        ))),
        _ => None,
    };
    let mut undo = redis::pipe();
    let mut outcomes = Vec::with_capacity(batch.len());
    for (q, (target, publish, copy)) in batch.iter().zip(slots) {
        if let Some(e) = target.and_then(error_at) {
            // Without the target copy the message did not arrive anywhere it stays: take
            // back our sent copy. (The PUBLISH went out after the refused XADD; a durable
            // reader skips such live copies, a live reader may show it once.)
            if let (Some(key), Some(i)) = (&q.copy_to, copy)
                && let Some(Value::BulkString(id)) = values.get(i)
            {
                undo.cmd("XDEL").arg(key).arg(id.as_slice()).ignore();
            }
            outcomes.push(Sent::Refused(e));
            continue;
        }
        if let Some(e) = error_at(publish) {
            if target.is_some() {
                // Stored already: the recipient gets it from the stream; resending would
                // only add copies.
                tracing::info!("PUBLISH of stored message {} refused: {e}", q.message.id);
                outcomes.push(Sent::Done(0));
            } else {
                outcomes.push(Sent::Refused(e));
            }
            continue;
        }
        // A refused sent-stream copy only costs our other devices this message.
        if let Some(e) = copy.and_then(error_at) {
            tracing::info!("our sent copy of {} was refused: {e}", q.message.id);
        }
        outcomes.push(Sent::Done(match values.get(publish) {
            Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        }));
    }
    if undo.cmd_iter().next().is_some() {
        let _ = undo.query_async::<()>(&mut conn).await;
    }
    Ok(outcomes)
}

/// How long a batch waits for a replica's confirmation behind Sentinel: short beside the
/// response timeout, so the heartbeat behind it on the shared link still gets its answer.
fn replica_wait(setup: &Setup) -> std::time::Duration {
    (setup.response_timeout / 4).min(std::time::Duration::from_millis(250))
}
