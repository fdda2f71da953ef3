//! Presence: who is online, without PUBLISH counts, PUBSUB or keyspace notifications.
//!
//! Each online device refreshes, every [`crate::session::DEFAULT_PRESENCE_BEAT`], its entry
//! in the user's `devices` sorted set (score: when the entry expires) and the key's TTL, the
//! user's last-seen time, and the user's score in the `directory`. A clean exit removes the
//! device at once; after a crash it expires within [`crate::session::PRESENCE_TTL`]. A user is
//! online while any device entry has not expired. Viewers look every beat, and at once (at
//! most once per 500 ms) when someone's hint arrives on the presence channel: a hint is only
//! a reason to look, never believed, so a flood of fake hints costs one lookup per 500 ms.
//!
//! The task also keeps the member lists of joined rooms (SMEMBERS) fresh.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::conversation::ConversationId;
use crate::session::config::{PRESENCE_TTL, Setup};
use crate::session::events::{Emitter, Event, Member};
use crate::session::shutdown::Shutdown;
use crate::username::Username;
use crate::wire::{self, Signal};

/// Users looked at from the directory, most recent first.
pub const MAX_DIRECTORY: usize = 1_000;
/// Members shown per room (a hostile member set is cut here).
pub const MAX_MEMBERS: usize = 2_000;
/// Users in the directory seen within this long are listed (offline, with last seen).
const RECENT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Hints are acted on at most this often.
const HINT_GAP: Duration = Duration::from_millis(500);

/// What the handle asks of the presence task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Look again now (a hint, a membership change).
    Refresh,
    /// The current "who" list.
    Who(oneshot::Sender<Vec<Member>>),
    /// A room's members, looked up now.
    Members(
        ConversationId,
        oneshot::Sender<crate::Result<(Vec<Member>, usize)>>,
    ),
}

/// The presence task's state.
pub(crate) struct PresenceTask {
    pub setup: Arc<Setup>,
    pub events: Emitter,
    pub link: watch::Receiver<Option<MultiplexedConnection>>,
    pub joined: watch::Receiver<Vec<ConversationId>>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
    /// Last known presence per user (what was emitted).
    pub known: HashMap<String, Member>,
    pub who: Vec<Member>,
    pub members: BTreeMap<ConversationId, (Vec<Member>, usize)>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

impl PresenceTask {
    fn conn(&self) -> Option<MultiplexedConnection> {
        self.link.borrow().clone()
    }

    async fn bounded<T: redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
        pipe: &redis::Pipeline,
    ) -> crate::Result<T> {
        let limit = self.setup.response_timeout * 2;
        match tokio::time::timeout(limit, pipe.query_async::<T>(conn)).await {
            Ok(r) => r.map_err(|e| self.setup.redis_error(&e)),
            Err(_) => Err(self.setup.timeout(limit)),
        }
    }

    /// Refreshes our device entry, last seen and directory score.
    async fn beat(&self, conn: &mut MultiplexedConnection) -> crate::Result<()> {
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let now = wire::now_ms();
        let ttl = PRESENCE_TTL.as_millis() as i64;
        let mut pipe = redis::pipe();
        // One hash tag (ours) for the first four; the directory is its own key.
        pipe.cmd("ZADD")
            .arg(keys.devices(me))
            .arg(now + ttl)
            .arg(&self.setup.device)
            .ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(keys.devices(me))
            .arg("-inf")
            .arg(now)
            .ignore();
        pipe.cmd("PEXPIRE").arg(keys.devices(me)).arg(ttl).ignore();
        pipe.cmd("SET").arg(keys.last_seen(me)).arg(now).ignore();
        pipe.cmd("ZADD")
            .arg(keys.directory())
            .arg(now)
            .arg(me.as_str())
            .ignore();
        self.bounded::<()>(conn, &pipe).await
    }

    /// Says goodbye: removes our device; when it was the last, we are offline at once.
    async fn farewell(&self, conn: &mut MultiplexedConnection) {
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM")
            .arg(keys.devices(me))
            .arg(&self.setup.device)
            .ignore();
        pipe.cmd("SET")
            .arg(keys.last_seen(me))
            .arg(wire::now_ms())
            .ignore();
        pipe.cmd("PUBLISH")
            .arg(keys.presence_channel())
            .arg(wire::encode_signal(me.as_str(), &Signal::Presence))
            .ignore();
        let _ = self.bounded::<()>(conn, &pipe).await;
    }

    async fn hint(&self, conn: &mut MultiplexedConnection) {
        let mut pipe = redis::pipe();
        pipe.cmd("PUBLISH")
            .arg(self.setup.keys.presence_channel())
            .arg(wire::encode_signal(self.setup.user.as_str(), &Signal::Presence))
            .ignore();
        let _ = self.bounded::<()>(conn, &pipe).await;
    }

    /// Presence of `users`: online (a device entry not expired) and last seen.
    async fn look_up(
        &self,
        conn: &mut MultiplexedConnection,
        users: &[Username],
    ) -> crate::Result<Vec<Member>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let keys = &self.setup.keys;
        let now = wire::now_ms();
        let mut pipe = redis::pipe();
        for u in users {
            pipe.cmd("ZCOUNT").arg(keys.devices(u)).arg(now).arg("+inf");
            pipe.cmd("GET").arg(keys.last_seen(u));
        }
        // Errors per key (a hostile key of another type) count as offline, not as a failure.
        let values: Vec<Value> = {
            let limit = self.setup.response_timeout * 2;
            let q = pipe.ignore_errors().query_async::<Vec<Value>>(conn);
            match tokio::time::timeout(limit, q).await {
                Ok(r) => r.map_err(|e| self.setup.redis_error(&e))?,
                Err(_) => return Err(self.setup.timeout(limit)),
            }
        };
        Ok(users
            .iter()
            .zip(values.chunks(2))
            .map(|(u, pair)| {
                let online = matches!(pair.first(), Some(Value::Int(n)) if *n > 0);
                let last_seen = pair
                    .get(1)
                    .and_then(text)
                    .and_then(|t| t.parse::<i64>().ok())
                    .map(wire::ms_to_rfc3339);
                Member {
                    user: u.to_string(),
                    online,
                    last_seen,
                }
            })
            .collect())
    }

    async fn directory(&self, conn: &mut MultiplexedConnection) -> crate::Result<Vec<Username>> {
        let since = wire::now_ms() - RECENT.as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGE")
            .arg(self.setup.keys.directory())
            .arg("+inf")
            .arg(since)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_DIRECTORY);
        let (names,): (Vec<Value>,) = self.bounded(conn, &pipe).await?;
        Ok(names
            .iter()
            .filter_map(text)
            .filter_map(|n| Username::parse(&n).ok().filter(|u| u.as_str() == n))
            .collect())
    }

    /// A room's members and the count of unreadable entries in its set.
    async fn room_members(
        &self,
        conn: &mut MultiplexedConnection,
        room: &ConversationId,
    ) -> crate::Result<(Vec<Member>, usize)> {
        let Some(name) = room.room() else {
            return Ok((Vec::new(), 0));
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SRANDMEMBER")
            .arg(self.setup.keys.members(name))
            .arg(MAX_MEMBERS);
        let (raw,): (Vec<Value>,) = self.bounded(conn, &pipe).await?;
        let mut users = Vec::new();
        let mut unreadable = 0;
        for v in &raw {
            match text(v).and_then(|n| Username::parse(&n).ok().filter(|u| u.as_str() == n)) {
                Some(u) => users.push(u),
                None => unreadable += 1,
            }
        }
        users.sort();
        users.dedup();
        let members = self.look_up(conn, &users).await?;
        Ok((members, unreadable))
    }

    /// Looks at everyone of interest; emits what changed.
    async fn refresh(&mut self, conn: &mut MultiplexedConnection) -> crate::Result<()> {
        let mut everyone = self.directory(conn).await?;
        let rooms: Vec<ConversationId> = self
            .joined
            .borrow()
            .iter()
            .filter(|c| c.room().is_some())
            .cloned()
            .collect();
        let mut lists = Vec::new();
        for room in rooms {
            match self.room_members(conn, &room).await {
                Ok(list) => {
                    everyone.extend(list.0.iter().filter_map(|m| Username::parse(&m.user).ok()));
                    lists.push((room, list));
                }
                Err(e) => self.events.notice(format!(
                    "The member list of {room} cannot be read: {e}"
                )),
            }
        }
        everyone.sort();
        everyone.dedup();
        let looked = self.look_up(conn, &everyone).await?;
        for m in &looked {
            if self.known.get(&m.user).map(|k| k.online) != Some(m.online) {
                self.events.emit(Event::Presence {
                    user: m.user.clone(),
                    online: m.online,
                    last_seen: m.last_seen.clone(),
                });
            }
            self.known.insert(m.user.clone(), m.clone());
        }
        let mut who: Vec<Member> = looked;
        who.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.user.cmp(&b.user)));
        if who != self.who {
            self.who = who.clone();
            self.events.emit(Event::Who { users: who });
        }
        let joined: Vec<ConversationId> = self.joined.borrow().clone();
        self.members.retain(|c, _| joined.contains(c));
        for (room, (list, unreadable)) in lists {
            let list: Vec<Member> = list
                .into_iter()
                .map(|m| self.known.get(&m.user).cloned().unwrap_or(m))
                .collect();
            let changed = self
                .members
                .get(&room)
                .is_none_or(|(old, u)| *old != list || *u != unreadable);
            if changed {
                self.members
                    .insert(room.clone(), (list.clone(), unreadable));
                self.events.emit(Event::Members {
                    conversation: room,
                    members: list,
                    unreadable,
                });
            }
        }
        Ok(())
    }

    /// Runs until shutdown; says goodbye on the way out.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.setup.presence_beat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending_hint = false;
        let mut last_refresh = tokio::time::Instant::now() - HINT_GAP;
        let mut announced = false;
        loop {
            let hint_wait = (last_refresh + HINT_GAP).saturating_duration_since(tokio::time::Instant::now());
            tokio::select! {
                _ = self.shutdown.recv() => break,
                _ = self.link.changed() => {
                    if self.link.borrow().is_none() {
                        announced = false;
                    } else {
                        tick.reset_immediately();
                    }
                    continue;
                }
                _ = self.joined.changed() => {
                    pending_hint = true;
                    continue;
                }
                _ = tick.tick() => {}
                _ = tokio::time::sleep(hint_wait), if pending_hint => {}
                cmd = self.commands.recv() => {
                    match cmd {
                        None => break,
                        Some(Command::Refresh) => {
                            pending_hint = true;
                            continue;
                        }
                        Some(Command::Who(reply)) => {
                            let _ = reply.send(self.who.clone());
                            continue;
                        }
                        Some(Command::Members(room, reply)) => {
                            let result = match self.conn() {
                                Some(mut conn) => self.room_members(&mut conn, &room).await,
                                None => Err(crate::Error::NotConnected),
                            };
                            let _ = reply.send(result);
                            continue;
                        }
                    }
                }
            }
            let Some(mut conn) = self.conn() else { continue };
            pending_hint = false;
            last_refresh = tokio::time::Instant::now();
            if self.setup.share_presence {
                if let Err(e) = self.beat(&mut conn).await {
                    tracing::info!("presence refresh failed: {e}");
                } else if !announced {
                    announced = true;
                    self.hint(&mut conn).await;
                }
            }
            if let Err(e) = self.refresh(&mut conn).await {
                tracing::info!("presence lookup failed: {e}");
            }
        }
        if self.setup.share_presence
            && let Some(mut conn) = self.conn()
        {
            self.farewell(&mut conn).await;
        }
    }
}

/// The presence hint and the command channel.
pub(crate) fn commands() -> (
    mpsc::UnboundedSender<Command>,
    mpsc::UnboundedReceiver<Command>,
) {
    mpsc::unbounded_channel()
}
