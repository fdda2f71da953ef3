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

use redis::Value;
use redis::aio::MultiplexedConnection;
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
                    redis::RedisResult<Vec<u64>>,
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
    pub link: watch::Receiver<Option<MultiplexedConnection>>,
    pub supervisor: mpsc::UnboundedSender<supervisor::Command>,
    pub inbound: mpsc::UnboundedSender<Inbound>,
    /// Outbox length, for status lines.
    pub queued: watch::Sender<usize>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
    /// Callers of `send` waiting for the outcome.
    pub waiters: HashMap<String, Waiter>,
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
        let mut one_at_a_time = false;
        // Since when the front message has been refused, and how many times.
        let mut refused: Option<(String, tokio::time::Instant, u32)> = None;
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut sending: Option<(Vec<Queued>, Sending)> = None;
        let mut pause: Option<Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            if sending.is_none() && pause.is_none() {
                let conn = self.link.borrow_and_update().clone();
                if let Some(conn) = conn {
                    let batch = self
                        .outbox
                        .front(if one_at_a_time { 1 } else { SEND_BATCH });
                    if !batch.is_empty() {
                        in_flight.extend(batch.iter().map(|q| q.message.id.clone()));
                        let limit = self.setup.response_timeout;
                        let fut = tokio::time::timeout(
                            limit,
                            send_batch(conn, self.setup.clone(), batch.clone()),
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
                        Ok(Ok(receivers)) => {
                            one_at_a_time = false;
                            refused = None;
                            self.confirm(&batch, &receivers);
                            continue;
                        }
                        Ok(Err(e)) if redis_refusal::is_link_failure(&e) => {
                            let _ = self.supervisor.send(supervisor::Command::Suspect);
                            Duration::from_millis(250)
                        }
                        Err(_) => {
                            let _ = self.supervisor.send(supervisor::Command::Suspect);
                            Duration::from_millis(250)
                        }
                        // Redis answered with an error: find the message it refuses (the others
                        // go through), then decide whether the refusal can pass.
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
                            if redis_refusal::is_permanent(&e) || since.elapsed() >= REFUSAL_BUDGET {
                                refused = None;
                                one_at_a_time = false;
                                let error = self.setup.redis_error(&e);
                                self.fail(front, error);
                                continue;
                            }
                            tracing::info!("message refused for now ({e}); trying again");
                            if strikes == 1 {
                                self.outgoing(front, OutgoingState::Queued, None, Some(format!(
                                    "the server refuses it for now ({e}); trying again"
                                )));
                            }
                            refused = Some((front.message.id.clone(), since, strikes));
                            backoff(strikes, Duration::from_secs(2))
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

    fn confirm(&mut self, batch: &[Queued], receivers: &[u64]) {
        let ids: Vec<&str> = batch.iter().map(|q| q.message.id.as_str()).collect();
        self.outbox.remove(&ids);
        self.queued.send_replace(self.outbox.len());
        for (q, &n) in batch.iter().zip(receivers) {
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

/// One pipeline for the batch; returns each message's PUBLISH receiver count.
async fn send_batch(
    mut conn: MultiplexedConnection,
    setup: Arc<Setup>,
    batch: Vec<Queued>,
) -> redis::RedisResult<Vec<u64>> {
    let mut pipe = redis::pipe();
    let mut publish_at = Vec::with_capacity(batch.len());
    let mut n = 0;
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
    for q in &batch {
        if let Some(key) = &q.stream {
            xadd(&mut pipe, key, &q.payload);
            n += 1;
        }
        pipe.cmd("PUBLISH").arg(&q.message.channel).arg(&q.payload);
        publish_at.push(n);
        n += 1;
        if let Some(key) = &q.copy_to {
            xadd(&mut pipe, key, &q.payload);
            n += 1;
        }
    }
    let values: Vec<Value> = pipe.query_async(&mut conn).await?;
    Ok(publish_at
        .into_iter()
        .map(|i| match values.get(i) {
            Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        })
        .collect())
}
