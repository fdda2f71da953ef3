//! Presence: who is online, without PUBLISH counts, PUBSUB or keyspace notifications.
//!
//! Each online device refreshes, every [`crate::session::DEFAULT_PRESENCE_BEAT`], its entry
//! in the user's `devices` sorted set (score: when the entry expires; the key has a TTL) and
//! the user's score in the `directory` sorted set (the expiry of the latest beat of any of
//! the user's devices). A user is online while their directory score is in the future: one
//! `ZREVRANGEBYSCORE` lists everyone online, one `ZMSCORE` answers for a room's members, so a
//! viewer's cost does not grow with a command per user. A clean exit of the last device sets
//! the score to now (offline at once); after a crash it expires within
//! [`crate::session::PRESENCE_TTL`]. "Last seen" is the score minus the TTL (a clean exit
//! reads up to one TTL early). Viewers look at everyone every two beats. A hint on the
//! presence channel ("alice: my presence changed") makes them look at alice alone, soon (at
//! most once per [`HINT_GAP`], all hinted names in one `ZMSCORE`): a hint is only a reason
//! to look, never believed, so a flood of fake hints costs one small lookup per gap, and a
//! busy server's comings and goings do not make every viewer re-read the whole directory.
//!
//! The task also keeps the member lists of joined rooms (SMEMBERS) fresh.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::session::Conn;
use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::conversation::ConversationId;
use crate::session::config::{PRESENCE_TTL, Setup};
use crate::session::events::{Emitter, Event, Member, NoticeCode};
use crate::session::shutdown::Shutdown;
use crate::username::Username;
use crate::wire::{self, Signal};

/// Users listed from the directory (the "who" list), most recent first. Every viewer reads
/// it every two beats, so it is what presence costs the server: keep it a sidebar's worth.
pub const MAX_DIRECTORY: usize = 200;
/// Hinted users remembered until the next look (a flood of fake names is cut here).
const MAX_HINTED: usize = 1_000;
/// Members shown per room (a hostile member set is cut here).
pub const MAX_MEMBERS: usize = 2_000;
/// Users in the directory seen within this long are listed (offline, with last seen).
const RECENT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Hints are acted on at most this often.
pub const HINT_GAP: Duration = Duration::from_secs(1);

/// What the handle asks of the presence task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Look at everyone again soon (a membership change).
    Refresh,
    /// Someone says their presence changed: look at them (only them) soon.
    Hint(String),
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
    pub link: watch::Receiver<Option<Conn>>,
    pub joined: watch::Receiver<Vec<ConversationId>>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
    /// Last known presence per user (what was emitted).
    pub known: HashMap<String, Member>,
    pub who: Vec<Member>,
    pub members: BTreeMap<ConversationId, (Vec<Member>, usize)>,
    /// Names hinted since the last look at them.
    pub hinted: std::collections::BTreeSet<Username>,
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
    fn conn(&self) -> Option<Conn> {
        self.link.borrow().clone()
    }

    async fn bounded<T: redis::FromRedisValue>(
        &self,
        conn: &mut Conn,
        pipe: &redis::Pipeline,
    ) -> crate::Result<T> {
        let limit = self.setup.response_timeout * 2;
        match tokio::time::timeout(limit, pipe.query_async::<T>(conn)).await {
            Ok(r) => r.map_err(|e| self.setup.redis_error(&e)),
            Err(_) => Err(self.setup.timeout(limit)),
        }
    }

    /// Refreshes our device entry and directory score.
    async fn beat(&self, conn: &mut Conn) -> crate::Result<()> {
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
        // Plain ZADD (Redis 6.0 has no GT): with several devices the latest beat wins, and
        // their expiries are within one beat of each other.
        pipe.cmd("ZADD")
            .arg(keys.directory())
            .arg(now + ttl)
            .arg(me.as_str())
            .ignore();
        self.bounded::<()>(conn, &pipe).await
    }

    /// Says goodbye: removes our device; when it was the last, we are offline at once.
    async fn farewell(&self, conn: &mut Conn) {
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
            .arg(wire::encode_signal(me.as_str(), &Signal::Presence, None))
            .ignore();
        let _ = self.bounded::<()>(conn, &pipe).await;
    }

    async fn hint(&self, conn: &mut Conn) {
        let mut pipe = redis::pipe();
        pipe.cmd("PUBLISH")
            .arg(self.setup.keys.presence_channel())
            .arg(wire::encode_signal(
                self.setup.user.as_str(),
                &Signal::Presence,
                None,
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

    /// Presence of `users`, in one ZMSCORE (one pipeline of ZSCOREs on Redis 6.0, which has
    /// no ZMSCORE).
    async fn look_up(&self, conn: &mut Conn, users: &[Username]) -> crate::Result<Vec<Member>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let now = wire::now_ms();
        let directory = self.setup.keys.directory();
        let mut pipe = redis::pipe();
        let cmd = pipe.cmd("ZMSCORE").arg(&directory);
        for u in users {
            cmd.arg(u.as_str());
        }
        let scores: Vec<Option<f64>> = match self.bounded::<(Vec<Option<f64>>,)>(conn, &pipe).await
        {
            Ok((scores,)) => scores,
            Err(e)
                if e.to_string()
                    .to_ascii_lowercase()
                    .contains("unknown command") =>
            {
                let mut pipe = redis::pipe();
                for u in users {
                    pipe.cmd("ZSCORE").arg(&directory).arg(u.as_str());
                }
                self.bounded(conn, &pipe).await?
            }
            Err(e) => return Err(e),
        };
        Ok(users
            .iter()
            .zip(scores.into_iter().chain(std::iter::repeat(None)))
            .map(|(u, score)| Self::member(u.as_str(), score, now))
            .collect())
    }

    /// Everyone online, and who was in the last week, newest first.
    async fn directory(&self, conn: &mut Conn) -> crate::Result<Vec<Member>> {
        let now = wire::now_ms();
        let since = now - RECENT.as_millis() as i64;
        let mut pipe = redis::pipe();
        // ZREVRANGEBYSCORE rather than ZRANGE … BYSCORE REV: Redis 6.0 has only the former.
        pipe.cmd("ZREVRANGEBYSCORE")
            .arg(self.setup.keys.directory())
            .arg("+inf")
            .arg(since)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_DIRECTORY);
        let (raw,): (Value,) = self.bounded(conn, &pipe).await?;
        let pairs = crate::inbox::scored(raw);
        Ok(pairs
            .into_iter()
            .filter(|(n, _)| Username::parse(n).is_ok_and(|u| u.as_str() == n))
            .map(|(n, score)| Self::member(&n, Some(score), now))
            .collect())
    }

    /// A room's members and the count of unreadable entries in its set.
    async fn room_members(
        &self,
        conn: &mut Conn,
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

    /// Takes fresh presence of some users into the known state, the who list and the member
    /// lists; emits what changed.
    fn apply(&mut self, looked: Vec<Member>) {
        let mut who_changed = false;
        for m in looked {
            if self.known.get(&m.user).map(|k| k.online) != Some(m.online) {
                self.events.emit(Event::Presence {
                    user: m.user.clone(),
                    online: m.online,
                    last_seen: m.last_seen.clone(),
                });
            }
            let listed = self.who.len();
            match self.who.iter_mut().find(|w| w.user == m.user) {
                Some(w) if *w != m => {
                    *w = m.clone();
                    who_changed = true;
                }
                Some(_) => {}
                None if m.online && listed < MAX_DIRECTORY => {
                    self.who.push(m.clone());
                    who_changed = true;
                }
                None => {}
            }
            for (room, (list, unreadable)) in self.members.iter_mut() {
                if let Some(entry) = list.iter_mut().find(|e| e.user == m.user)
                    && *entry != m
                {
                    *entry = m.clone();
                    self.events.emit(Event::Members {
                        conversation: room.clone(),
                        members: list.clone(),
                        unreadable: *unreadable,
                    });
                }
            }
            self.known.insert(m.user.clone(), m);
        }
        if who_changed {
            self.who
                .sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.user.cmp(&b.user)));
            self.events.emit(Event::Who {
                users: self.who.clone(),
            });
        }
    }

    /// Looks at everyone of interest; emits what changed.
    async fn refresh(&mut self, conn: &mut Conn) -> crate::Result<()> {
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
                Err(e) => self.events.notice(
                    NoticeCode::MembersUnreadable,
                    format!("The member list of {room} cannot be read: {e}"),
                ),
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
        let mut last_hint_look = tokio::time::Instant::now() - HINT_GAP;
        let mut announced = false;
        loop {
            let hint_wait =
                (last_refresh + HINT_GAP).saturating_duration_since(tokio::time::Instant::now());
            let hinted_wait =
                (last_hint_look + HINT_GAP).saturating_duration_since(tokio::time::Instant::now());
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
                _ = tokio::time::sleep(hinted_wait), if !self.hinted.is_empty() => {
                    last_hint_look = tokio::time::Instant::now();
                    let users: Vec<Username> = std::mem::take(&mut self.hinted).into_iter().collect();
                    if let Some(mut conn) = self.conn() {
                        match self.look_up(&mut conn, &users).await {
                            // A hinted name nobody knows that is not online is nothing to
                            // show: fake hints invent nobody.
                            Ok(looked) => {
                                let real = looked
                                    .into_iter()
                                    .filter(|m| m.online || self.known.contains_key(&m.user))
                                    .collect();
                                self.apply(real);
                            }
                            Err(e) => tracing::info!("presence lookup failed: {e}"),
                        }
                    }
                    continue;
                }
                cmd = self.commands.recv() => {
                    match cmd {
                        None => break,
                        Some(Command::Refresh) => {
                            pending_hint = true;
                            continue;
                        }
                        Some(Command::Hint(user)) => {
                            // Only names that are names, and a bounded number of them.
                            if let Ok(u) = Username::parse(&user)
                                && u.as_str() == user
                                && self.hinted.len() < MAX_HINTED
                            {
                                self.hinted.insert(u);
                            }
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
