//! The supervisor owns the main link: one RESP3 connection carrying the SUBSCRIBEs (pushes)
//! and the short commands (PUBLISH, XADD, PING, history) of every other task.
//!
//! A fresh connection is opened for every attempt and subscribes to every channel before
//! the session reports `Connected`, so a subscription is never silently lost. A dead link is
//! noticed by the connection closing, by a heartbeat PING without an answer in time (a
//! black-holed link), or by TCP keepalive; it is reopened with backoff and jitter, forever,
//! until shutdown. "Retry now" cuts the wait short. The link is published on a `watch` for
//! the other tasks; they report trouble with [`Command::Suspect`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::Conn;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::backoff::backoff;
use super::events::NoticeCode;

/// Longest wait between reconnects while the server refuses our credentials or commands.
pub(crate) const REFUSED_RETRY_DELAY: Duration = Duration::from_secs(60);
use super::config::Setup;
use super::events::{Counters, Emitter, Event, State, Status};
use super::link::{self, Link};
use super::shutdown::Shutdown;

/// What other tasks ask of the supervisor.
#[derive(Debug)]
pub(crate) enum Command {
    /// Listen on these channels too (now, and after every reconnect).
    Subscribe(Vec<String>, oneshot::Sender<()>),
    /// Stop listening on these channels.
    Unsubscribe(Vec<String>),
    /// Reconnect now instead of waiting.
    RetryNow,
    /// Another task saw an error on the link: check it now.
    Suspect,
    /// A sentinel announced a new master (its `host:port`): move to it.
    Failover(String),
}

/// The supervisor's state.
pub(crate) struct Supervisor {
    pub setup: Arc<Setup>,
    pub target: Arc<super::target::Target>,
    /// The data server's address and node count, for status lines.
    pub server: (String, u32),
    pub events: Emitter,
    pub counters: Arc<Counters>,
    /// The main link while it is up.
    pub link: watch::Sender<Option<Conn>>,
    /// Messages waiting in the outbox (owned by the publisher), for status lines.
    pub queued: watch::Receiver<usize>,
    pub inbound: super::queue::InboundSender,
    /// Everything we SUBSCRIBE to.
    pub channels: BTreeSet<String>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
}

/// How the connected phase ended.
enum Ended {
    Stopped(Conn),
    Lost(String),
}

impl Supervisor {
    fn status(
        &self,
        state: State,
        reason: Option<String>,
        attempt: u32,
        retry_in: Option<Duration>,
    ) {
        self.events.emit(Event::Status(Status {
            state,
            user: self.setup.user.to_string(),
            addr: self.server.0.clone(),
            reason,
            attempt,
            retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            delivery: self.setup.delivery,
            queued: *self.queued.borrow(),
            topology: self.target.topology(),
            nodes: self.server.1,
        }));
    }

    fn channel_list(&self) -> Vec<String> {
        self.channels.iter().cloned().collect()
    }

    /// Runs until shutdown. `first` is the link opened by `connect`, if it worked;
    /// `helpers_done` resolves once every other task has finished (they need the link for
    /// their farewells, so it is closed after them).
    pub async fn run(
        mut self,
        mut first: Option<Link>,
        first_error: Option<String>,
        helpers_done: impl Future<Output = ()>,
    ) {
        let mut attempt: u32 = 0;
        // Credentials or permissions refused on reconnect: wait long, say so once.
        let mut refused = false;
        if let Some(why) = &first_error {
            self.status(State::Reconnecting, Some(why.clone()), 0, None);
        }
        let mut reason = first_error.unwrap_or_default();
        let closing = loop {
            let (conn, pushes) = match first.take() {
                Some(link) => link,
                None => {
                    if attempt > 0 {
                        let delay = if refused {
                            backoff(attempt, REFUSED_RETRY_DELAY)
                        } else {
                            backoff(attempt, self.setup.max_retry_delay)
                        };
                        self.status(
                            State::Reconnecting,
                            Some(reason.clone()),
                            attempt,
                            Some(delay),
                        );
                        let sleep = tokio::time::sleep(delay);
                        tokio::pin!(sleep);
                        let stop = loop {
                            tokio::select! {
                                _ = &mut sleep => break false,
                                _ = self.shutdown.recv() => break true,
                                cmd = self.commands.recv() => match cmd {
                                    Some(Command::RetryNow | Command::Failover(_)) => break false,
                                    Some(cmd) => self.offline_command(cmd),
                                    None => break true,
                                },
                            }
                        };
                        if stop {
                            break None;
                        }
                    }
                    attempt += 1;
                    let limit = self.setup.connect_timeout.min(Duration::from_secs(5));
                    let channels = self.channel_list();
                    // Behind Sentinel, the master may have moved: ask again every time.
                    let resolved = tokio::select! {
                        resolved = self.target.resolve() => resolved,
                        _ = self.shutdown.recv() => break None,
                    };
                    let current = match resolved {
                        Ok(current) => current,
                        Err(e) => {
                            reason = e.to_string();
                            tracing::info!("reconnect attempt {attempt}: {reason}");
                            continue;
                        }
                    };
                    self.server = (current.settings.addr(), current.nodes);
                    let opened = tokio::select! {
                        opened = link::open_link(&self.target, &current, &self.setup, &channels, limit) => opened,
                        _ = self.shutdown.recv() => break None,
                    };
                    match opened {
                        Ok(link) => link,
                        Err(e) => {
                            reason = e.reason(&self.setup);
                            tracing::info!("reconnect attempt {attempt} failed: {reason}");
                            if e.is_refusal() && !refused {
                                refused = true;
                                self.events.notice(
                                    NoticeCode::AuthRefused,
                                    format!(
                                        "The server refuses this user ({reason}). Redchat tries again only every minute or so: fix the password or permissions in Settings, or press Retry now."
                                    ),
                                );
                            }
                            continue;
                        }
                    }
                }
            };
            attempt = 0;
            refused = false;
            if conn.is_cluster() {
                self.server.1 = conn.nodes();
            }
            self.link.send_replace(Some(conn.clone()));
            self.status(State::Connected, None, 0, None);
            let ended = self.connected(conn, pushes).await;
            self.link.send_replace(None);
            match ended {
                Ended::Stopped(conn) => break Some(conn),
                Ended::Lost(why) => {
                    tracing::info!("link lost: {why}");
                    Counters::bump(&self.counters.reconnects, 1);
                    self.status(State::Reconnecting, Some(why.clone()), 0, None);
                    reason = why;
                }
            }
        };
        if let Some(conn) = &closing {
            // The others say goodbye (presence) over the link: it stays up until they are done.
            self.link.send_replace(Some(conn.clone()));
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), helpers_done).await;
        self.link.send_replace(None);
        if let Some(mut conn) = closing {
            let limit = self.setup.response_timeout.min(Duration::from_secs(2));
            let channels = self.channel_list();
            let _ = tokio::time::timeout(limit, conn.unsubscribe(&channels)).await;
        }
        self.status(State::Disconnected, None, 0, None);
    }

    /// Commands while the link is down: remember channels for the next link.
    fn offline_command(&mut self, cmd: Command) {
        match cmd {
            Command::Subscribe(channels, done) => {
                self.channels.extend(channels);
                let _ = done.send(());
            }
            Command::Unsubscribe(channels) => {
                for c in channels {
                    self.channels.remove(&c);
                }
            }
            Command::RetryNow | Command::Suspect | Command::Failover(_) => {}
        }
    }

    /// The connected phase: pushes, heartbeat, commands, until the link dies or shutdown.
    async fn connected(
        &mut self,
        mut conn: Conn,
        mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    ) -> Ended {
        let mut tick = tokio::time::interval(self.setup.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        let mut batch = Vec::with_capacity(256);
        loop {
            tokio::select! {
                _ = self.shutdown.recv() => return Ended::Stopped(conn),
                n = pushes.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        return Ended::Lost("connection closed".into());
                    }
                    for push in batch.drain(..) {
                        match push.kind {
                            PushKind::Message | PushKind::SMessage => {
                                if let Some(msg) = redis::Msg::from_push_info(push) {
                                    self.inbound.send_live(
                                        msg.get_channel_name().to_string(),
                                        msg.get_payload_bytes().to_vec(),
                                    );
                                }
                                if conn.is_cluster() {
                                    self.setup.wake.notify_one();
                                }
                            }
                            PushKind::Disconnection => {
                                return Ended::Lost("connection lost".into());
                            }
                            // A cluster moved a shard channel's slot (a migration, a
                            // failover): a fresh link subscribes on the new owner.
                            PushKind::SUnsubscribe => {
                                let still_wanted = push.data.first().and_then(|v| match v {
                                    Value::BulkString(b) => std::str::from_utf8(b).ok().map(str::to_string),
                                    _ => None,
                                }).is_none_or(|c| self.channels.contains(&c));
                                if still_wanted {
                                    return Ended::Lost("the cluster moved a channel's slot".into());
                                }
                            }
                            // The server dropped a subscription we still want (an admin, a
                            // config change): a fresh link subscribes again.
                            PushKind::Unsubscribe => {
                                let still_wanted = push.data.first().and_then(|v| match v {
                                    Value::BulkString(b) => std::str::from_utf8(b).ok().map(str::to_string),
                                    _ => None,
                                }).is_none_or(|c| self.channels.contains(&c));
                                if still_wanted {
                                    return Ended::Lost("the server dropped the subscription".into());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                cmd = self.commands.recv() => {
                    let Some(cmd) = cmd else { return Ended::Stopped(conn) };
                    match cmd {
                        Command::Subscribe(channels, done) => {
                            let fresh: Vec<String> = channels.into_iter().filter(|c| self.channels.insert(c.clone())).collect();
                            if !fresh.is_empty() {
                                let limit = self.setup.response_timeout;
                                match tokio::time::timeout(limit, conn.subscribe(&fresh)).await {
                                    Ok(Ok(())) => {}
                                    Ok(Err(e)) => return Ended::Lost(format!("subscribe failed ({e})")),
                                    Err(_) => return Ended::Lost("no answer to SUBSCRIBE".into()),
                                }
                            }
                            let _ = done.send(());
                        }
                        Command::Unsubscribe(channels) => {
                            let gone: Vec<String> = channels.into_iter().filter(|c| self.channels.remove(c)).collect();
                            if !gone.is_empty() {
                                let limit = self.setup.response_timeout;
                                let _ = tokio::time::timeout(limit, conn.unsubscribe(&gone)).await;
                            }
                        }
                        Command::RetryNow => {}
                        Command::Failover(to) => {
                            if to != self.server.0 {
                                return Ended::Lost(format!("the sentinels moved the master to {to}"));
                            }
                        }
                        Command::Suspect => {
                            if let Err(why) = self.ping(&mut conn).await {
                                return Ended::Lost(why);
                            }
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(why) = self.ping(&mut conn).await {
                        return Ended::Lost(why);
                    }
                }
            }
        }
    }

    async fn ping(&self, conn: &mut Conn) -> Result<(), String> {
        let limit = self.setup.response_timeout;
        if conn.is_stale() {
            return Err("the cluster's slots moved".into());
        }
        match tokio::time::timeout(limit, conn.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("connection lost ({e})")),
            Err(_) => Err(format!(
                "no answer to the heartbeat within {}s",
                limit.as_secs_f32()
            )),
        }
    }
}
