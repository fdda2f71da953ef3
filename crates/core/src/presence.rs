//! Presence: who is online, without PUBLISH counts, PUBSUB or keyspace notifications.
//!
//! Each online device refreshes, every [`crate::session::DEFAULT_PRESENCE_BEAT`], its entry
//! in the user's `devices` sorted set (score: when the entry expires; the key has a TTL) and
//! the user's score in the `directory` sorted set (`ZADD GT`: the latest expiry of any of the
//! user's devices). A user is online while their directory score is in the future: one
//! `ZRANGE … BYSCORE` lists everyone online, one `ZMSCORE` answers for a room's members, so a
//! viewer's cost does not grow with a command per user. A clean exit of the last device sets
//! the score to now (offline at once); after a crash it expires within
//! [`crate::session::PRESENCE_TTL`]. "Last seen" is the score minus the TTL (a clean exit
//! reads up to one TTL early). Viewers look every two beats, and soon (at most once per
//! [`HINT_GAP`]) after a hint on the presence channel: a hint is only a reason to look, never
//! believed, so a flood of fake hints costs one lookup per gap.
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
pub const HINT_GAP: Duration = Duration::from_secs(1);

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

    /// Refreshes our device entry and directory score.
    async fn beat(&self, conn: &mut MultiplexedConnection) -> crate::Result<()> {
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let now = wire::now_ms();
        let ttl = PRESENCE_TTL.as_millis() as i64;
        let mut pipe = redis::pipe();
        // Our hash tag for the first three; the directory is its own key (no transaction).
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
        pipe.cmd("ZADD")
            .arg(keys.directory())
            .arg("GT")
            .arg(now + ttl)
            .arg(me.as_str())
            .ignore();
        self.bounded::<()>(conn, &pipe).await
    }

    /// Says goodbye: removes our device; when it was the last, we are offline at once.
    async fn farewell(&self, conn: &mut MultiplexedConnection) {
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let now = wire::now_ms();
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM")
            .arg(keys.devices(me))
            .arg(&self.setup.device)
            .ignore();
        pipe.cmd("ZCOUNT")
            .arg(keys.devices(me))
            .arg(now)
            .arg("+inf");
        let Ok((others,)) = self.bounded::<(u64,)>(conn, &pipe).await else {
            return;
        };
        if others > 0 {
            return;
        }
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(keys.directory())
            .arg("XX")
            .arg(now)
            .arg(me.as_str())
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
            .arg(wire::encode_signal(
                self.setup.user.as_str(),
                &Signal::Presence,
            ))
            .ignore();
        let _ = self.bounded::<()>(conn, &pipe).await;
    }

    /// A member from a directory score (ms: when the user's latest device entry expires).
    fn member(user: &str, score: Option<f64>, now: i64) -> Member {
        let ttl = PRESENCE_TTL.as_millis() as i64;
        let score = score.filter(|s| s.is_finite()).map(|s| s as i64);
        Member {
            user: user.to_string(),
            online: score.is_some_and(|s| s > now),
            last_seen: score
                .filter(|s| *s <= now)
                .map(|s| wire::ms_to_rfc3339((s - ttl).min(now))),
        }
    }

    /// Presence of `users`, in one ZMSCORE.
    async fn look_up(
        &self,
        conn: &mut MultiplexedConnection,
        users: &[Username],
    ) -> crate::Result<Vec<Member>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let now = wire::now_ms();
        let mut pipe = redis::pipe();
        let cmd = pipe.cmd("ZMSCORE").arg(self.setup.keys.directory());
        for u in users {
            cmd.arg(u.as_str());
        }
        let (scores,): (Vec<Option<f64>>,) = self.bounded(conn, &pipe).await?;
        Ok(users
            .iter()
            .zip(scores.into_iter().chain(std::iter::repeat(None)))
            .map(|(u, score)| Self::member(u.as_str(), score, now))
            .collect())
    }

    /// Everyone online, and who was in the last week, newest first.
    async fn directory(&self, conn: &mut MultiplexedConnection) -> crate::Result<Vec<Member>> {
        let now = wire::now_ms();
        let since = now - RECENT.as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGE")
            .arg(self.setup.keys.directory())
            .arg("+inf")
            .arg(since)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_DIRECTORY)
            .arg("WITHSCORES");
        let (raw,): (Value,) = self.bounded(conn, &pipe).await?;
        let pairs: Vec<(String, f64)> = match raw {
            Value::Array(items) => items
                .iter()
                .filter_map(|item| match item {
                    // RESP3: [member, score] pairs.
                    Value::Array(pair) if pair.len() == 2 => Some((
                        text(&pair[0])?,
                        match &pair[1] {
                            Value::Double(d) => *d,
                            other => text(other)?.parse().ok()?,
                        },
                    )),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(pairs
            .into_iter()
            .filter(|(n, _)| Username::parse(n).is_ok_and(|u| u.as_str() == n))
            .map(|(n, score)| Self::member(&n, Some(score), now))
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
        let mut looked = self.directory(conn).await?;
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
                Ok(list) => lists.push((room, list)),
                Err(e) => self
                    .events
                    .notice(format!("The member list of {room} cannot be read: {e}")),
            }
        }
        let listed: std::collections::HashSet<String> =
            looked.iter().map(|m| m.user.clone()).collect();
        for (_, (members, _)) in &lists {
            for m in members {
                if !listed.contains(&m.user) {
                    looked.push(m.clone());
                }
            }
        }
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
        let mut who: Vec<Member> = looked
            .into_iter()
            .filter(|m| listed.contains(&m.user))
            .collect();
        who.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.user.cmp(&b.user)));
        if who != self.who {
            self.who = who.clone();
            self.events.emit(Event::Who { users: who });
        }
        let joined: Vec<ConversationId> = self.joined.borrow().clone();
        self.members.retain(|c, _| joined.contains(c));
        for (room, (list, unreadable)) in lists {
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
        let mut beats: u64 = 0;
        let mut pending_hint = false;
        let mut last_refresh = tokio::time::Instant::now() - HINT_GAP;
        let mut announced = false;
        loop {
            let hint_wait =
                (last_refresh + HINT_GAP).saturating_duration_since(tokio::time::Instant::now());
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
                _ = tick.tick() => {
                    beats += 1;
                    if let Some(mut conn) = self.conn()
                        && self.setup.share_presence
                    {
                        if let Err(e) = self.beat(&mut conn).await {
                            tracing::info!("presence refresh failed: {e}");
                        } else if !announced {
                            announced = true;
                            self.hint(&mut conn).await;
                        }
                    }
                    // Others are looked at every second beat (and on hints).
                    if beats.is_multiple_of(2) && !pending_hint && beats > 2 {
                        continue;
                    }
                }
                _ = tokio::time::sleep(hint_wait), if pending_hint => {}
                cmd = self.commands.recv() => {
                    match cmd {
                        None => break,
                        Some(Command::Refresh) => {
                            pending_hint = true;
                            continue;
                        }
                        Some(Command::Who(reply)) => {
                            // Fresh when the link is up (a one-shot CLI has no cache yet).
                            let who = match self.conn() {
                                Some(mut conn) => self.directory(&mut conn).await.unwrap_or_else(|_| self.who.clone()),
                                None => self.who.clone(),
                            };
                            let _ = reply.send(who);
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
            let Some(mut conn) = self.conn() else {
                continue;
            };
            pending_hint = false;
            last_refresh = tokio::time::Instant::now();
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
