//! The stream reader: which rooms and channels we are in, and (durable mode) every stream
//! we read — our inbox, our sent stream, each room's stream — in **one** `XREAD` on its own
//! connection, so a client in 50 rooms uses as many connections as one in none.
//!
//! After every (re)connect it loads the joined list and the read positions from Redis,
//! subscribes to what was joined (also on another device), checks each cursor against its
//! stream (a stream reset by a restore is read again, hiding what was shown), catches up
//! without blocking, then blocks. A stream that cannot be read (a key of another type,
//! an ACL) is named in a notice and left out, so it never silences the others.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::Conn;
use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::backoff::backoff;
use super::config::Setup;
use super::events::{Emitter, Event, NoticeCode};
use super::inbound::Inbound;
use super::link;
use super::shutdown::Shutdown;
use super::supervisor;
use crate::conversation::ConversationId;
use crate::error::redis_refusal;
use crate::inbox;
use crate::store::entry_id;

/// Entries per stream per XREAD.
const READ_BATCH: usize = 256;
/// How long one XREAD blocks.
pub(crate) const READ_BLOCK: Duration = Duration::from_secs(5);
/// Least time between two blocking reads. Under load a member of a busy room would otherwise
/// send one XREAD per message (every member, every message: the server's cost grows with
/// members × rate); waiting this long lets entries collect into one read. A quiet stream
/// is read at once: the wait only applies right after a read that returned something.
pub(crate) const READ_GAP: Duration = Duration::from_millis(20);
/// Longest wait between two failing read passes (an error that repeats never spins).
pub(crate) const READ_BACKOFF_CAP: Duration = Duration::from_secs(30);
/// An entry id this far past our clock was written by hand (a hostile write).
const FUTURE_ID_MS: u64 = 24 * 60 * 60 * 1_000;
/// Most rooms and channels one user can be in (a hostile rooms hash is cut here).
pub(crate) const MAX_JOINED: usize = 500;

/// What the handle asks of the reader.
#[derive(Debug)]
pub(crate) enum Command {
    /// We joined (`from`: the stream id of our join entry, if any).
    Join {
        conversation: ConversationId,
        from: Option<String>,
        done: oneshot::Sender<()>,
    },
    /// We left.
    Leave { conversation: ConversationId },
    /// Load the joined list again (changed on another device).
    Resync,
}

/// The reader's state.
pub(crate) struct Reader {
    pub setup: Arc<Setup>,
    pub target: Arc<super::target::Target>,
    pub events: Emitter,
    pub link: watch::Receiver<Option<Conn>>,
    pub supervisor: mpsc::UnboundedSender<supervisor::Command>,
    pub inbound: super::queue::InboundSender,
    /// The joined list, published for the inbound path and presence.
    pub joined: watch::Sender<Vec<ConversationId>>,
    /// Stream key → last entry id read.
    pub cursors: BTreeMap<String, String>,
    /// Joined conversation → the stream id to read a room from when there is no cursor.
    pub joined_at: BTreeMap<ConversationId, Option<String>>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub shutdown: Shutdown,
    /// Streams left out because they cannot be read (named in a notice once).
    pub left_out: HashSet<String>,
}

/// The id just before `id` (XREAD is exclusive: reading from it includes `id`).
fn just_before(id: &str) -> String {
    match entry_id(id) {
        Some((ms, seq)) if seq > 0 => format!("{ms}-{}", seq - 1),
        Some((ms, _)) if ms > 0 => format!("{}-{}", ms - 1, u64::MAX),
        _ => "0-0".into(),
    }
}

/// What one pass of the read loop ended with.
enum Pass {
    Stop,
    /// Reopen the reader connection (commands changed the stream set, or an error).
    Reopen {
        failed: bool,
    },
}

impl Reader {
    fn streams(&self) -> Vec<String> {
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let mut streams = vec![keys.inbox_stream(me), keys.sent_stream(me)];
        streams.extend(
            self.joined_at
                .keys()
                .filter_map(ConversationId::room)
                .map(|r| keys.room_stream(r)),
        );
        streams
    }

    fn start_of(&self, key: &str) -> String {
        if let Some(id) = self.cursors.get(key) {
            return id.clone();
        }
        self.joined_at
            .iter()
            .find(|(c, _)| {
                c.room()
                    .is_some_and(|r| self.setup.keys.room_stream(r) == key)
            })
            .and_then(|(_, from)| from.as_deref().map(just_before))
            .unwrap_or_else(|| "0-0".into())
    }

    fn channels_of(&self, conversations: &[&ConversationId]) -> Vec<String> {
        conversations
            .iter()
            .map(|c| self.setup.keys.channel_of(c))
            .collect()
    }

    async fn set_joined(&mut self, joined: BTreeMap<ConversationId, Option<String>>) {
        let gone: Vec<&ConversationId> = self
            .joined_at
            .keys()
            .filter(|c| !joined.contains_key(*c))
            .collect();
        let gone = self.channels_of(&gone);
        self.joined_at = joined;
        let list: Vec<ConversationId> = self.joined_at.keys().cloned().collect();
        // The router learns the new channels before any message on them can arrive.
        self.joined.send_replace(list.clone());
        let all: Vec<&ConversationId> = self.joined_at.keys().collect();
        let channels = self.channels_of(&all);
        let (done, subscribed) = oneshot::channel();
        let _ = self
            .supervisor
            .send(supervisor::Command::Subscribe(channels, done));
        if !gone.is_empty() {
            let _ = self.supervisor.send(supervisor::Command::Unsubscribe(gone));
        }
        let _ = tokio::time::timeout(self.setup.response_timeout * 2, subscribed).await;
        self.events.emit(Event::Joined {
            conversations: list,
        });
    }

    /// Loads the joined list and read positions from Redis over the main link.
    async fn sync(&mut self) -> bool {
        let Some(mut conn) = self.link.borrow().clone() else {
            return false;
        };
        let keys = &self.setup.keys;
        let me = &self.setup.user;
        let mut pipe = redis::pipe();
        // Our public key, for contact panels (a hint: receivers pin what signs messages).
        pipe.cmd("SET")
            .arg(keys.identity(me))
            .arg(self.setup.identity.public_key())
            .ignore();
        pipe.cmd("HGETALL").arg(keys.rooms(me));
        pipe.cmd("ZRANGE")
            .arg(keys.read_positions(me))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES");
        let reply = tokio::time::timeout(
            self.setup.response_timeout * 2,
            pipe.query_async::<(Value, Value)>(&mut conn),
        )
        .await;
        let (rooms, positions) = match reply {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) if redis_refusal::is_wrong_type(&e) || redis_refusal::is_forbidden(&e) => {
                self.events.notice(NoticeCode::RoomListUnreadable, format!(
                    "Your room list or read positions cannot be read ({e}); check the keys {} and {}.",
                    keys.rooms(me),
                    keys.read_positions(me)
                ));
                (Value::Nil, Value::Nil)
            }
            Ok(Err(e)) => {
                tracing::info!("cannot load the joined rooms: {e}");
                let _ = self.supervisor.send(supervisor::Command::Suspect);
                return false;
            }
            Err(_) => return false,
        };
        let mut joined = BTreeMap::new();
        let mut garbage = 0;
        for (field, value) in pairs(rooms) {
            match ConversationId::parse(&field) {
                Ok(c @ (ConversationId::Room(_) | ConversationId::Channel(_)))
                    if joined.len() < MAX_JOINED =>
                {
                    let from = value.filter(|v| entry_id(v).is_some());
                    joined.insert(c, from);
                }
                _ => garbage += 1,
            }
        }
        if garbage > 0 {
            self.events.notice(
                NoticeCode::RoomListGarbage,
                format!(
                    "{garbage} unreadable entries in your room list ({}) were left out.",
                    keys.rooms(me)
                ),
            );
        }
        let mut read = HashMap::new();
        for (field, at) in inbox::scored(positions) {
            if let Ok(c) = ConversationId::parse(&field) {
                read.insert(c, at as i64);
            }
        }
        let _ = self.inbound.send(Inbound::Positions(read));
        self.set_joined(joined).await;
        true
    }

    async fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Join {
                conversation,
                from,
                done,
            } => {
                let mut joined = self.joined_at.clone();
                joined.insert(conversation, from);
                self.set_joined(joined).await;
                let _ = done.send(());
            }
            Command::Leave { conversation } => {
                let mut joined = self.joined_at.clone();
                joined.remove(&conversation);
                if let Some(room) = conversation.room() {
                    let key = self.setup.keys.room_stream(room);
                    self.cursors.remove(&key);
                    // A later join reads from that join, not from where we left.
                    let _ = self.inbound.send(Inbound::Forget { key });
                }
                self.set_joined(joined).await;
            }
            Command::Resync => {
                self.sync().await;
            }
        }
    }

    /// Runs until shutdown.
    pub async fn run(mut self) {
        let mut failures: u32 = 0;
        let mut synced_link = false;
        loop {
            if self.shutdown.is_shutdown() {
                return;
            }
            // Everything starts from the main link being up: it tells us the server is there.
            if self.link.borrow_and_update().is_none() {
                synced_link = false;
                tokio::select! {
                    _ = self.link.changed() => {}
                    _ = self.shutdown.recv() => return,
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => { self.apply(cmd).await; }
                        None => return,
                    },
                }
                continue;
            }
            if !synced_link {
                synced_link = self.sync().await;
                if !synced_link {
                    failures += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff(failures, self.setup.max_retry_delay)) => {}
                        _ = self.shutdown.recv() => return,
                    }
                    continue;
                }
            }
            if !self.setup.durable() {
                // Live-only: nothing to read; serve commands and resync after reconnects.
                tokio::select! {
                    _ = self.link.changed() => synced_link = false,
                    _ = self.shutdown.recv() => return,
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => { self.apply(cmd).await; }
                        None => return,
                    },
                }
                continue;
            }
            if failures > 0 {
                // Up to 30 s between failing passes; a new link (reconnected) ends the wait.
                tokio::select! {
                    _ = tokio::time::sleep(backoff(failures, READ_BACKOFF_CAP)) => {}
                    _ = self.link.changed() => {
                        failures = 0;
                        synced_link = false;
                        continue;
                    }
                    _ = self.shutdown.recv() => return,
                }
            }
            match self.read_pass().await {
                Pass::Stop => return,
                Pass::Reopen { failed } => {
                    failures = if failed { failures + 1 } else { 0 };
                    if failed {
                        synced_link = false;
                    }
                }
            }
        }
    }

    /// One reader connection: check cursors, catch up, then block, until the stream set
    /// changes, an error, or shutdown.
    async fn read_pass(&mut self) -> Pass {
        let Some(current) = self.target.current() else {
            // The sentinels have not named a master yet: the supervisor is asking them.
            let _ = self.supervisor.send(supervisor::Command::Suspect);
            return Pass::Reopen { failed: true };
        };
        let cluster = self.target.topology() == super::events::Topology::Cluster;
        let opened = if cluster {
            link::open_cluster_reader(&self.target, &current, &self.setup).await
        } else {
            link::open_reader(&current.client, &self.setup, READ_BLOCK)
                .await
                .map_err(|e| e.to_string())
        };
        let mut conn = match opened {
            Ok(c) => c,
            Err(e) => {
                tracing::info!("stream reader cannot connect: {e}");
                let _ = self.supervisor.send(supervisor::Command::Suspect);
                return Pass::Reopen { failed: true };
            }
        };
        // On a cluster: read when a live message wakes us (or every READ_BLOCK), without
        // blocking; `woken` says whether the last wait ended by a wake.
        let mut quiet_before = false;
        let mut woken = true;
        // Each pass tries every stream again: one an admin fixed is read again. It counts as
        // readable (its live copies skipped) only once a read over it succeeded.
        let mut streams = self.streams();
        let mut hide: HashMap<String, u64> = HashMap::new();
        match self.check_cursors(&mut conn, &streams).await {
            Ok(reset) => hide = reset,
            Err(e) => {
                tracing::info!("cursor check failed: {e}");
                if !(redis_refusal::is_wrong_type(&e) || redis_refusal::is_forbidden(&e)) {
                    return Pass::Reopen { failed: true };
                }
            }
        }
        let mut catching_up = true;
        let mut flagged: HashSet<String> = HashSet::new();
        let _ = self.inbound.send(Inbound::CatchUp { done: false });
        let mut last_read: Option<tokio::time::Instant> = None;
        // A stream left out is tried again now and then, even while the others are read:
        // an admin may have fixed it (or the attacker's key was deleted).
        let retry_left_out = tokio::time::Instant::now() + self.setup.stream_retry;
        loop {
            if !catching_up
                && !self.left_out.is_empty()
                && tokio::time::Instant::now() >= retry_left_out
            {
                return Pass::Reopen { failed: false };
            }
            if let Some(at) = last_read.take() {
                let gap = tokio::time::sleep_until(at + READ_GAP);
                tokio::select! {
                    _ = gap => {}
                    _ = self.shutdown.recv() => return Pass::Stop,
                }
            }
            if streams.is_empty() {
                // Every stream is left out (refused): wait for a change, never spin.
                if catching_up {
                    let _ = self.inbound.send(Inbound::CatchUp { done: true });
                }
                tokio::select! {
                    _ = self.shutdown.recv() => return Pass::Stop,
                    _ = self.link.changed() => return Pass::Reopen { failed: false },
                    // Try again now and then: an admin may have fixed the keys.
                    _ = tokio::time::sleep(self.setup.stream_retry) => return Pass::Reopen { failed: false },
                    cmd = self.commands.recv() => {
                        let Some(cmd) = cmd else { return Pass::Stop };
                        self.apply(cmd).await;
                        return Pass::Reopen { failed: false };
                    }
                }
            }
            // The inbound task is far behind (a flood): wait instead of reading more.
            while self.inbound.is_full() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                    _ = self.shutdown.recv() => return Pass::Stop,
                }
            }
            if cluster && !catching_up && quiet_before {
                woken = tokio::select! {
                    _ = self.setup.wake.notified() => true,
                    _ = tokio::time::sleep(READ_BLOCK) => false,
                    _ = self.shutdown.recv() => return Pass::Stop,
                    cmd = self.commands.recv() => {
                        let Some(cmd) = cmd else { return Pass::Stop };
                        self.apply(cmd).await;
                        return Pass::Reopen { failed: false };
                    }
                };
            }
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("COUNT").arg(READ_BATCH);
            // Catching up reads what is there without waiting: an empty answer means
            // "caught up", not "wait for the next message".
            if !catching_up && !cluster {
                cmd.arg("BLOCK").arg(READ_BLOCK.as_millis() as u64);
            }
            cmd.arg("STREAMS");
            for key in &streams {
                cmd.arg(key);
            }
            for key in &streams {
                cmd.arg(self.start_of(key));
            }
            let read = cmd.query_async::<Value>(&mut conn);
            let reply = tokio::select! {
                reply = read => reply,
                _ = self.shutdown.recv() => return Pass::Stop,
                cmd = self.commands.recv() => {
                    let Some(cmd) = cmd else { return Pass::Stop };
                    self.apply(cmd).await;
                    // The blocked XREAD holds this connection: read the new set on a new one.
                    return Pass::Reopen { failed: false };
                }
            };
            match reply {
                Ok(value) => {
                    for key in &streams {
                        if self.left_out.remove(key) {
                            let _ = self.inbound.send(Inbound::StreamReadable {
                                key: key.clone(),
                                readable: true,
                            });
                        }
                    }
                    let mut full = false;
                    let mut moved = BTreeMap::new();
                    for (key, entries) in inbox::read_streams(value) {
                        if !streams.contains(&key) {
                            continue;
                        }
                        full |= entries.len() >= READ_BATCH;
                        if let Some(last) = entries.last() {
                            self.flag_odd_id(&key, &last.id, &mut flagged);
                            moved.insert(key.clone(), last.id.clone());
                            self.cursors.insert(key.clone(), last.id.clone());
                        }
                        let _ = self.inbound.send(Inbound::Stored {
                            hide_sent_before: hide.get(&key).copied(),
                            key,
                            entries,
                        });
                    }
                    let quiet = moved.is_empty();
                    quiet_before = quiet;
                    if !quiet {
                        let _ = self.inbound.send(Inbound::Cursors(moved));
                        if !catching_up {
                            last_read = Some(tokio::time::Instant::now());
                        }
                    }
                    if catching_up && !full {
                        catching_up = false;
                        let _ = self.inbound.send(Inbound::CatchUp { done: true });
                    } else if !catching_up && quiet && !(cluster && woken) {
                        // Quiet for a whole block: check that no cursor is past its stream's
                        // end (a far-future id, then the stream deleted), or we would wait
                        // for ids that never come while the status says Connected.
                        match self.check_cursors(&mut conn, &streams).await {
                            Ok(reset) => hide.extend(reset),
                            Err(e) => {
                                tracing::info!("cursor check failed: {e}");
                                let _ = self.supervisor.send(supervisor::Command::Suspect);
                                return Pass::Reopen { failed: true };
                            }
                        }
                    }
                }
                Err(e) if redis_refusal::is_wrong_type(&e) || redis_refusal::is_forbidden(&e) => {
                    // One bad stream fails the whole XREAD: find it, name it, leave it out.
                    let bad = self.find_unreadable(&mut conn, &streams).await;
                    if bad.is_empty() {
                        tracing::info!("stream read refused: {e}");
                        return Pass::Reopen { failed: true };
                    }
                    // Every bad stream is marked before any notice goes out: once the user
                    // (or a script) reads "live messages are still shown", they are.
                    let mut notices = Vec::new();
                    for (key, why, code) in bad {
                        streams.retain(|k| *k != key);
                        if !self.left_out.insert(key.clone()) {
                            continue;
                        }
                        let _ = self.inbound.send(Inbound::StreamReadable {
                            key: key.clone(),
                            readable: false,
                        });
                        notices.push((key, why, code));
                    }
                    for (key, why, code) in notices {
                        self.events.notice(code, format!(
                            "The stream {key} cannot be read ({why}). It is left out (tried again on reconnect and every {} s); messages that arrive live are still shown. Ask an admin to fix or delete that key.",
                            self.setup.stream_retry.as_secs()
                        ));
                    }
                }
                Err(e) => {
                    tracing::info!("stream read failed: {e}");
                    let _ = self.supervisor.send(supervisor::Command::Suspect);
                    return Pass::Reopen { failed: true };
                }
            }
        }
    }

    /// Names an entry id that no server wrote by itself: the largest possible one (nobody
    /// can add to that stream any more) or one far in the future. Once per stream and pass.
    fn flag_odd_id(&self, key: &str, id: &str, flagged: &mut HashSet<String>) {
        let Some((ms, seq)) = entry_id(id) else {
            return;
        };
        let now = u64::try_from(crate::wire::now_ms()).unwrap_or(0);
        if ms <= now.saturating_add(FUTURE_ID_MS) || !flagged.insert(key.to_string()) {
            return;
        }
        if ms == u64::MAX && seq == u64::MAX {
            self.events.notice(NoticeCode::StreamExhausted, format!(
                "The stream {key} holds the largest possible entry id ({id}): nobody can store messages in it any more, and senders' messages to it fail. Someone wrote that id by hand. Everything in it has been read: ask an admin to delete the key (redis-cli DEL {key})."
            ));
        } else {
            self.events.notice(NoticeCode::StreamFutureId, format!(
                "The stream {key} holds an entry id far in the future ({id}), written by hand. New messages still arrive after it; if the stream is deleted, Redchat notices and reads it again."
            ));
        }
    }

    /// Streams among `streams` that this user cannot read, and why.
    async fn find_unreadable(
        &self,
        conn: &mut Conn,
        streams: &[String],
    ) -> Vec<(String, String, NoticeCode)> {
        let mut bad = Vec::new();
        for key in streams {
            let probe = redis::cmd("XREVRANGE")
                .arg(key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async::<Value>(conn)
                .await;
            if let Err(e) = probe
                && (redis_refusal::is_wrong_type(&e) || redis_refusal::is_forbidden(&e))
            {
                let (why, code) = if redis_refusal::is_wrong_type(&e) {
                    (
                        "the key holds another type of value".to_string(),
                        NoticeCode::StreamWrongType,
                    )
                } else {
                    (format!("no permission: {e}"), NoticeCode::StreamForbidden)
                };
                bad.push((key.clone(), why, code));
            }
        }
        bad
    }

    /// Checks each saved cursor against its stream. A stream whose newest entry is older
    /// than the cursor was reset (restarted without persistence, restored from a backup):
    /// it is read from the start, hiding what was sent before the cursor's time.
    async fn check_cursors(
        &mut self,
        conn: &mut Conn,
        streams: &[String],
    ) -> redis::RedisResult<HashMap<String, u64>> {
        let with_cursor: Vec<(String, String)> = streams
            .iter()
            .filter_map(|k| self.cursors.get(k).map(|c| (k.clone(), c.clone())))
            .filter(|(_, c)| entry_id(c).is_some_and(|id| id != (0, 0)))
            .collect();
        let mut hide = HashMap::new();
        if with_cursor.is_empty() {
            return Ok(hide);
        }
        let mut pipe = redis::pipe();
        for (key, _) in &with_cursor {
            pipe.cmd("XREVRANGE")
                .arg(key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let limit = self.setup.response_timeout * 2;
        let replies: Vec<Value> = match tokio::time::timeout(limit, pipe.query_async(conn)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(redis::RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
        };
        for ((key, cursor), reply) in with_cursor.into_iter().zip(replies) {
            let newest = inbox::entries(reply).pop().map(|e| e.id);
            match newest.as_deref() {
                Some(id) if entry_id(id) >= entry_id(&cursor) => {}
                Some(_) => {
                    self.events.notice(NoticeCode::StreamReset, format!(
                        "The server's copy of {key} is older than what this device has read (it lost data or was restored from a backup). Reading it again; messages already shown stay hidden."
                    ));
                    // A far-future cursor (a hostile id) says nothing about what was shown:
                    // hide nothing by time then (ids already shown stay hidden).
                    let now = u64::try_from(crate::wire::now_ms()).unwrap_or(0);
                    if let Some((ms, _)) = entry_id(&cursor)
                        && ms <= now.saturating_add(FUTURE_ID_MS)
                    {
                        hide.insert(key.clone(), ms);
                    }
                    self.cursors.insert(key, "0-0".into());
                }
                // Gone (e.g. restarted without persistence): new entries may get any id.
                None => {
                    self.cursors.insert(key, "0-0".into());
                }
            }
        }
        Ok(hide)
    }
}

/// Field/value pairs of an HGETALL reply (RESP3 map or RESP2 flat array); values that are
/// not text are `None`.
fn pairs(v: Value) -> Vec<(String, Option<String>)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    match v {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, text(v))))
            .collect(),
        Value::Array(a) => a
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((text(k)?, text(v))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn just_before_includes_the_entry() {
        assert_eq!(just_before("5-2"), "5-1");
        assert_eq!(just_before("5-0"), format!("4-{}", u64::MAX));
        assert_eq!(just_before("junk"), "0-0");
    }
}
