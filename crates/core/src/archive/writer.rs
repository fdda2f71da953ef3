//! The store's writer thread: whatever waits is stored in one transaction; a damaged file
//! is moved aside and a new one started.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use rusqlite::{Connection, params};

use super::{BATCH, Extra, Op, Shared, damaged, move_aside, open_writer, unavailable};
use crate::wire::ChatMessage;

pub(super) struct Writer {
    pub conn: Option<Connection>,
    pub path: PathBuf,
    pub shared: Arc<Shared>,
    /// The last write failed (a notice was given; the next success clears it).
    pub failing: bool,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Op>) {
        let mut batch: Vec<(Box<ChatMessage>, bool)> = Vec::with_capacity(BATCH);
        let mut flushes = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(op) = next.take() {
                match op {
                    Op::Put(m, plain) => batch.push((m, plain)),
                    Op::Flush(done) => flushes.push(done),
                    Op::Rebuild(generation) => {
                        if generation == self.shared.generation.load(Ordering::Acquire) {
                            self.rebuild();
                        }
                    }
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.write(&batch);
                batch.clear();
            }
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn write(&mut self, batch: &[(Box<ChatMessage>, bool)]) {
        let mut result = self.insert(batch);
        if let Err(e) = &result
            && damaged(e)
        {
            self.rebuild();
            result = self.insert(batch);
        }
        match result {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    self.shared
                        .notice("The local message store is written again.".into());
                }
            }
            Err(e) => {
                if !self.failing {
                    self.failing = true;
                    self.shared.notice(format!(
                        "Cannot write the local message store ({}: {e}). Chatting goes on; these messages stay in Redis.",
                        self.path.display()
                    ));
                }
            }
        }
    }

    fn insert(&mut self, batch: &[(Box<ChatMessage>, bool)]) -> rusqlite::Result<()> {
        if self.conn.is_none() {
            self.conn = Some(open_writer(&self.path)?);
        }
        let conn = self.conn.as_mut().expect("opened above");
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO messages(id, conversation, kind, sender, sender_key, recipient, room, \
                 content, sent_at, received_at, at, trust, mine, request, extra) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT(conversation, id) DO NOTHING",
            )?;
            for (m, plain) in batch {
                let extra = Extra {
                    channel: m.channel.clone(),
                    legacy: m.legacy,
                    durable: m.durable,
                    mentions_me: m.mentions_me,
                    sender_issue: m.sender_issue.clone(),
                    lookalike: m.lookalike.clone(),
                    plain: *plain,
                };
                stmt.execute(params![
                    m.id,
                    m.conversation.to_string(),
                    if *plain { "plain" } else { "chat" },
                    m.sender,
                    m.sender.trim().to_lowercase(),
                    m.to,
                    m.room,
                    m.content,
                    m.sent_at,
                    m.received_at,
                    m.at,
                    m.trust.as_str(),
                    m.mine,
                    m.request,
                    serde_json::to_string(&extra).unwrap_or_else(|_| "{}".into()),
                ])?;
            }
        }
        tx.commit()
    }

    /// Moves the damaged file aside and starts a new one.
    fn rebuild(&mut self) {
        self.conn = None;
        let aside = move_aside(&self.path);
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.shared.notice(format!(
            "The local message store was damaged; it was moved to {} and a new one is filled from Redis. Chatting goes on.",
            aside.display()
        ));
        match open_writer(&self.path) {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => self.shared.notice(unavailable(&self.path, &e)),
        }
    }
}
