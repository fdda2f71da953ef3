//! The local message store: every message this device sees (live, caught up, history pages,
//! sent), in one SQLite file per server + user (`messages.sqlite` in the session directory),
//! with an FTS5 index for search, and export.
//!
//! Writes never run on the async runtime: [`Archive::record`] hands a message to a writer
//! thread over a bounded queue and returns; the thread stores what waits in one transaction.
//! Reads (pages, search, export) take their own connection; call them from
//! `spawn_blocking` (or a plain thread, as the CLI does).
//!
//! The store is a copy, never the only place a message lives: Redis streams hold everything
//! durable. So a damaged, locked or unwritable database never stops a session. It says so
//! (a notice), keeps chatting, and a damaged file is moved aside and rebuilt, refilled from
//! Redis by the history pages the window reads.

mod export;
mod page;
mod query;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::trust::Trust;
use crate::wire::{ChatMessage, PlainText};

pub use export::{Format, private_file};
pub use page::{Bound, Context, Found, Page};
pub use query::Query;

/// The database's file name in the session directory.
pub const FILE: &str = "messages.sqlite";
/// Messages waiting for the writer at most; beyond that they are counted (they stay in
/// Redis) and a notice says the store fell behind.
const QUEUE: usize = 65_536;
/// Messages stored per transaction at most.
const BATCH: usize = 2_048;
/// How long a write waits for another connection's lock.
const BUSY: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages(
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    recipient TEXT,
    room TEXT,
    content TEXT NOT NULL,
    sent_at TEXT,
    received_at TEXT NOT NULL,
    at INTEGER NOT NULL,
    trust TEXT NOT NULL,
    mine INTEGER NOT NULL,
    request INTEGER NOT NULL,
    extra TEXT NOT NULL,
    UNIQUE(conversation, id)
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages(conversation, at, seq);
CREATE INDEX IF NOT EXISTS messages_by_at ON messages(at, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    content, content='messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
PRAGMA user_version = 1;
";

const COLUMNS: &str = "m.id, m.conversation, m.sender, m.recipient, m.room, m.content, m.sent_at, \
                       m.received_at, m.at, m.trust, m.mine, m.request, m.extra, m.seq";

/// The fields of a message that have no column of their own.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Extra {
    channel: String,
    legacy: bool,
    durable: bool,
    mentions_me: bool,
    sender_issue: Option<String>,
    lookalike: Option<String>,
    /// Plain text (a raw channel line), not a chat message.
    plain: bool,
}

enum Op {
    Put(Box<ChatMessage>, bool),
    Flush(mpsc::Sender<()>),
    /// A reader found the file damaged (at this generation).
    Rebuild(u64),
}

struct Shared {
    path: Option<PathBuf>,
    generation: AtomicU64,
    notices: Mutex<Vec<String>>,
    has_notices: AtomicBool,
    /// Messages that could not be queued for the writer since the last notice.
    behind: AtomicU64,
    /// Why the store cannot be used at all (opening failed), if so.
    broken: Mutex<Option<String>>,
}

impl Shared {
    fn notice(&self, text: String) {
        tracing::warn!(target: "redchat::archive", "{text}");
        lock(&self.notices).push(text);
        self.has_notices.store(true, Ordering::Release);
    }
}

/// The local message store of one server + user; cheap to clone.
#[derive(Clone)]
pub struct Archive {
    shared: Arc<Shared>,
    tx: Option<SyncSender<Op>>,
    reader: Arc<Mutex<Option<(u64, Connection)>>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.shared.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

fn storage(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("{what} {}: {e}", path.display()))
}

/// Creates the file readable by the user alone before SQLite opens it (its `-wal` and
/// `-shm` files take the same mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    if let Err(e) = create_private(path) {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(e.to_string()),
        ));
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 32 MiB of page cache (default 2 MiB): the indexes of a big store stay in memory, so a
    // batch costs about the same at 1,000,000 messages as at 10,000.
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY)?;
    Ok(conn)
}

/// Moves a damaged database (and its `-wal`/`-shm`) aside; returns where it went.
fn move_aside(path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let aside = path.with_extension(format!("sqlite.damaged-{stamp}"));
    if let Err(e) = std::fs::rename(path, &aside) {
        tracing::warn!(target: "redchat::archive", "cannot move {}: {e}", path.display());
        let _ = std::fs::remove_file(path);
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    aside
}

impl Archive {
    /// Opens (or creates) the store in `dir` and starts its writer. Never fails: a store that
    /// cannot be opened is [`Archive::is_available`] `false` and says why in a notice; a
    /// damaged file is moved aside and a new one started.
    pub fn open(dir: &Path) -> Archive {
        let path = dir.join(FILE);
        let shared = Arc::new(Shared {
            path: Some(path.clone()),
            generation: AtomicU64::new(0),
            notices: Mutex::default(),
            has_notices: AtomicBool::new(false),
            behind: AtomicU64::new(0),
            broken: Mutex::new(None),
        });
        let conn = match open_writer(&path) {
            Ok(conn) => Some(conn),
            Err(e) if damaged(&e) => {
                let aside = move_aside(&path);
                shared.notice(format!(
                    "The local message store was damaged; it was moved to {} and a new one is filled from Redis. Chatting goes on.",
                    aside.display()
                ));
                match open_writer(&path) {
                    Ok(conn) => Some(conn),
                    Err(e) => {
                        shared.notice(unavailable(&path, &e));
                        *lock(&shared.broken) = Some(e.to_string());
                        None
                    }
                }
            }
            Err(e) => {
                shared.notice(unavailable(&path, &e));
                *lock(&shared.broken) = Some(e.to_string());
                None
            }
        };
        let tx = conn.map(|conn| {
            let (tx, rx) = mpsc::sync_channel(QUEUE);
            let writer = writer::Writer {
                conn: Some(conn),
                path,
                shared: shared.clone(),
                failing: false,
            };
            std::thread::Builder::new()
                .name("redchat-archive".into())
                .spawn(move || writer.run(rx))
                .expect("spawn the archive writer");
            tx
        });
        Archive {
            shared,
            tx,
            reader: Arc::default(),
        }
    }

    /// Opens an existing store for reading only (the CLI's `search` and `export`).
    ///
    /// # Errors
    /// [`Error::Storage`] when there is no store in `dir` or it cannot be read.
    pub fn open_read_only(dir: &Path) -> Result<Archive> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Err(Error::Storage(format!(
                "no messages are stored here yet ({}): run `listen` or `chat` with this --data-dir first",
                path.display()
            )));
        }
        let conn = open_reader(&path).map_err(|e| storage("cannot read", &path, e))?;
        Ok(Archive {
            shared: Arc::new(Shared {
                path: Some(path),
                generation: AtomicU64::new(0),
                notices: Mutex::default(),
                has_notices: AtomicBool::new(false),
                behind: AtomicU64::new(0),
                broken: Mutex::new(None),
            }),
            tx: None,
            reader: Arc::new(Mutex::new(Some((0, conn)))),
        })
    }

    /// The store can be written (it opened).
    pub fn is_available(&self) -> bool {
        self.tx.is_some()
    }

    /// The database file.
    pub fn path(&self) -> Option<&Path> {
        self.shared.path.as_deref()
    }

    /// Queues a message for storing; returns at once. A message already stored (same
    /// conversation and id) is kept as it was.
    pub fn record(&self, message: &ChatMessage) {
        self.put(Box::new(message.clone()), false);
    }

    /// Queues a line of plain text (a raw channel) for storing.
    pub fn record_plain(&self, plain: &PlainText) {
        let message = ChatMessage {
            id: plain.id.clone(),
            conversation: plain.conversation.clone(),
            sender: String::new(),
            to: None,
            room: None,
            content: plain.text.clone(),
            sent_at: None,
            received_at: plain.received_at.clone(),
            at: chrono::DateTime::parse_from_rfc3339(&plain.received_at)
                .map(|t| t.timestamp_millis())
                .unwrap_or_else(|_| crate::wire::now_ms()),
            channel: plain.channel.clone(),
            legacy: true,
            durable: false,
            mine: false,
            mentions_me: false,
            trust: Trust::Unsigned,
            request: false,
            sender_issue: None,
            lookalike: None,
            signature: None,
        };
        self.put(Box::new(message), true);
    }

    fn put(&self, message: Box<ChatMessage>, plain: bool) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Op::Put(message, plain)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.shared.behind.fetch_add(1, Ordering::Relaxed) == 0 {
                    self.shared.notice(
                        "The local message store fell behind; some messages are only in Redis (history still shows them).".into(),
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Waits until everything queued so far is written (or `limit` passes). Blocking.
    pub fn flush(&self, limit: Duration) -> bool {
        let Some(tx) = &self.tx else { return true };
        let (done, wait) = mpsc::channel();
        if tx.send(Op::Flush(done)).is_err() {
            return false;
        }
        wait.recv_timeout(limit).is_ok()
    }

    /// Notices to show since the last call (damaged, unwritable, fell behind).
    pub fn take_notices(&self) -> Vec<String> {
        if !self.shared.has_notices.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *lock(&self.shared.notices))
    }

    fn read<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let path = self.shared.path.as_deref().unwrap_or(Path::new(FILE));
        if let Some(reason) = lock(&self.shared.broken).clone() {
            return Err(Error::Storage(format!(
                "the local message store cannot be used ({}): {reason}",
                path.display()
            )));
        }
        let generation = self.shared.generation.load(Ordering::Acquire);
        let mut reader = lock(&self.reader);
        if reader.as_ref().is_none_or(|(g, _)| *g != generation) {
            let conn = open_reader(path).map_err(|e| storage("cannot read", path, e))?;
            *reader = Some((generation, conn));
        }
        let (_, conn) = reader.as_mut().expect("opened above");
        f(conn).map_err(|e| {
            if damaged(&e)
                && let Some(tx) = &self.tx
            {
                let _ = tx.try_send(Op::Rebuild(generation));
            }
            storage("cannot read", path, e)
        })
    }

    /// The stored messages of `conversation` (every direct conversation when `None`) older
    /// than `before` (from the newest when `None`): at most `limit`, oldest first. Raw
    /// channel lines are not part of pages.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read.
    pub fn page(
        &self,
        conversation: Option<&ConversationId>,
        before: Option<Bound>,
        limit: usize,
    ) -> Result<Page> {
        let limit = limit.clamp(1, 5_000);
        let bound = before.unwrap_or(Bound {
            at: i64::MAX,
            seq: i64::MAX,
        });
        let mut messages = self.read(|conn| {
            let (scope, value) = scope(conversation);
            let sql = format!(
                "SELECT {COLUMNS} FROM messages m WHERE kind = 'chat' AND {scope} \
                 AND (m.at < ?2 OR (m.at = ?2 AND m.seq < ?3)) \
                 ORDER BY m.at DESC, m.seq DESC LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows =
                stmt.query_map(params![value, bound.at, bound.seq, limit as i64], from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let older = (messages.len() == limit)
            .then(|| messages.last().map(|(_, b)| *b))
            .flatten();
        messages.reverse();
        Ok(Page {
            messages: messages.into_iter().map(|(m, _)| m).collect(),
            older,
        })
    }

    /// Message `id` of `conversation` with up to `before` older and `after` newer messages.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read; [`Error::InvalidSearch`] when the
    /// message is not stored.
    pub fn context(
        &self,
        conversation: &ConversationId,
        id: &str,
        before: usize,
        after: usize,
    ) -> Result<Context> {
        let found = self.read(|conn| {
            conn.query_row(
                "SELECT at, seq FROM messages WHERE conversation = ?1 AND id = ?2",
                params![conversation.to_string(), id],
                |r| {
                    Ok(Bound {
                        at: r.get(0)?,
                        seq: r.get(1)?,
                    })
                },
            )
            .optional()
        })?;
        let Some(at) = found else {
            return Err(Error::InvalidSearch(
                "that message is no longer stored on this device".into(),
            ));
        };
        let older = self.page(Some(conversation), Some(at), before.max(1))?;
        let after = after.clamp(1, 5_000);
        let newer = self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages m WHERE kind = 'chat' AND m.conversation = ?1 \
                 AND (m.at > ?2 OR (m.at = ?2 AND m.seq >= ?3)) ORDER BY m.at, m.seq LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![conversation.to_string(), at.at, at.seq, after as i64 + 1],
                from_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let more_newer = newer.len() > after;
        let mut messages = older.messages;
        messages.extend(newer.into_iter().take(after).map(|(m, _)| m));
        Ok(Context {
            messages,
            older: older.older,
            newer: more_newer,
        })
    }

    /// Searches the store: newest first, at most `limit` hits.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read.
    pub fn search(&self, query: &Query, limit: usize) -> Result<Found> {
        let limit = limit.clamp(1, 1_000);
        let conversation = query.conversation.as_ref().map(|c| c.to_string());
        let filters = "(?2 IS NULL OR m.conversation = ?2) AND (?3 IS NULL OR m.sender_key = ?3) \
                       AND (?4 IS NULL OR m.at < ?4) AND (?5 IS NULL OR m.at >= ?5)";
        let run = |conn: &mut Connection, fts: Option<String>| {
            let (sql, text) = match fts {
                Some(fts) => (
                    format!(
                        "SELECT {COLUMNS} FROM messages_fts f JOIN messages m ON m.seq = f.rowid \
                         WHERE messages_fts MATCH ?1 AND {filters} ORDER BY f.rowid DESC LIMIT ?6"
                    ),
                    Some(fts),
                ),
                None => (
                    format!(
                        "SELECT {COLUMNS} FROM messages m WHERE ?1 IS NULL AND {filters} \
                         ORDER BY m.at DESC, m.seq DESC LIMIT ?6"
                    ),
                    None,
                ),
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    text,
                    conversation,
                    query.from,
                    query.before,
                    query.after,
                    limit as i64 + 1
                ],
                from_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        };
        let mut hits = self.read(|conn| {
            let prefixed = query.fts(true);
            if prefixed == query.fts(false) {
                return run(conn, prefixed);
            }
            // The typed words exactly first: when they fill the page, the prefix (which for a
            // common start merges a large part of the index) is not needed.
            let exact = run(conn, query.fts(false))?;
            if exact.len() > limit {
                return Ok(exact);
            }
            run(conn, prefixed)
        })?;
        let more = hits.len() > limit;
        hits.truncate(limit);
        // Newest first by the messages' own time (the index returns them by storing order).
        hits.sort_by_key(|(m, b)| std::cmp::Reverse((m.at, b.seq)));
        Ok(Found {
            hits: hits.into_iter().map(|(m, _)| m).collect(),
            words: query.words.clone(),
            more,
        })
    }

    /// Calls `each` for every stored message of `conversation` (all when `None`), ordered by
    /// conversation, then time. Returns how many.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read; the first error of `each`.
    pub fn for_each(
        &self,
        conversation: Option<&ConversationId>,
        mut each: impl FnMut(&ChatMessage) -> std::io::Result<()>,
    ) -> Result<u64> {
        let mut failed: Option<std::io::Error> = None;
        let count = self.read(|conn| {
            let (scope, value) = match conversation {
                Some(c) => ("m.conversation = ?1", Some(c.to_string())),
                None => ("?1 IS NULL", None),
            };
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM messages m WHERE {scope} ORDER BY m.conversation, m.at, m.seq"
            ))?;
            let mut rows = stmt.query(params![value])?;
            let mut n = 0u64;
            while let Some(row) = rows.next()? {
                let (m, _) = from_row(row)?;
                if let Err(e) = each(&m) {
                    failed = Some(e);
                    break;
                }
                n += 1;
            }
            Ok(n)
        })?;
        match failed {
            Some(e) => Err(Error::Storage(format!("cannot write the export: {e}"))),
            None => Ok(count),
        }
    }

    /// Messages stored.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read.
    pub fn count(&self) -> Result<u64> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
        })
        .map(|n| n as u64)
    }
}

fn unavailable(path: &Path, e: &rusqlite::Error) -> String {
    format!(
        "The local message store cannot be used ({}: {e}). Chatting goes on; history and search come from Redis only until this is fixed.",
        path.display()
    )
}

/// The WHERE part choosing the conversation(s) of a page, and its `?1`.
fn scope(conversation: Option<&ConversationId>) -> (&'static str, Option<String>) {
    match conversation {
        Some(c) => ("m.conversation = ?1", Some(c.to_string())),
        // Direct conversations are `@…`: the range '@' ≤ c < 'A' uses the index.
        None => (
            "?1 IS NULL AND m.conversation >= '@' AND m.conversation < 'A'",
            None,
        ),
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(ChatMessage, Bound)> {
    let conversation: String = r.get(1)?;
    let trust: String = r.get(9)?;
    let extra: String = r.get(12)?;
    let extra: Extra = serde_json::from_str(&extra).unwrap_or_default();
    let at: i64 = r.get(8)?;
    let message = ChatMessage {
        id: r.get(0)?,
        conversation: ConversationId::parse(&conversation)
            .unwrap_or_else(|_| crate::wire::unknown_conversation()),
        sender: r.get(2)?,
        to: r.get(3)?,
        room: r.get(4)?,
        content: r.get(5)?,
        sent_at: r.get(6)?,
        received_at: r.get(7)?,
        at,
        channel: extra.channel,
        legacy: extra.legacy,
        durable: extra.durable,
        mine: r.get(10)?,
        mentions_me: extra.mentions_me,
        trust: serde_json::from_value(serde_json::Value::String(trust)).unwrap_or_default(),
        request: r.get(11)?,
        sender_issue: extra.sender_issue,
        lookalike: extra.lookalike,
        signature: None,
    };
    Ok((
        message,
        Bound {
            at,
            seq: r.get(13)?,
        },
    ))
}

#[cfg(test)]
mod tests;
