//! The outbox: messages accepted for sending, kept until Redis confirmed them.
//!
//! With a file, every accepted message is appended (and synced) before `submit` returns, so
//! quitting or a crash loses nothing; confirmed messages are marked done and the file is
//! truncated whenever the outbox is empty. The file is JSON lines:
//! `{"add":{...}}` for an accepted message, `{"done":"<id>"}` for a confirmed one,
//! `{"failed":{"id":..,"reason":..}}` for one Redis refused for good (kept for a retry).
//! A torn last line (crash while writing) is skipped on load.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wire::ChatMessage;

/// A message waiting to be sent, with the exact payload to send (so a resend is identical
/// and the recipient can hide the duplicate by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub message: ChatMessage,
    /// The stream the message is appended to in durable mode: the recipient's inbox or the
    /// room's stream. `None`: publish only (live-only mode, raw channels).
    #[serde(alias = "inbox_stream")]
    pub stream: Option<String>,
    /// Our own sent stream, for a direct message in durable mode (history, other devices).
    #[serde(default)]
    pub copy_to: Option<String>,
    /// The JSON payload.
    pub payload: String,
}

/// A message Redis refused for good, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failed {
    pub id: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // one record at a time, read or written once
enum Record {
    Add(Queued),
    Done(String),
    Failed(Failed),
}

/// Messages accepted but not yet confirmed by Redis, oldest first, and the ones Redis
/// refused (until retried).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pending: VecDeque<Queued>,
    failed: Vec<(Queued, String)>,
    file: Option<(PathBuf, File)>,
}

impl Outbox {
    /// An outbox in memory only: lost when the process ends.
    pub fn in_memory() -> Outbox {
        Outbox::default()
    }

    /// Opens (creating) the outbox file at `path` and loads what is still pending.
    pub fn open(path: &Path) -> std::io::Result<Outbox> {
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::store::private_dir(dir)?;
        let mut outbox = Outbox::default();
        match File::open(path) {
            Ok(file) => {
                // Byte lines, not `lines()`: a line torn inside a multi-byte character must be
                // skipped like any other damaged line, not fail the whole outbox.
                let mut reader = BufReader::new(file);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line)? > 0 {
                    match serde_json::from_slice::<Record>(&line) {
                        Ok(record) => outbox.replay(record),
                        Err(e) => tracing::warn!("skipping a damaged outbox line: {e}"),
                    }
                    line.clear();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Unreadable but present: never overwrite what may hold queued messages.
            Err(e) => return Err(e),
        }
        // Rewrite with only what is pending (synced, renamed, directory synced), then append.
        let tmp = crate::store::temp_path(path);
        {
            let mut out = crate::store::private_file(&tmp, true)?;
            for q in &outbox.pending {
                out.write_all(&record_line(&Record::Add(q.clone())))?;
            }
            for (q, reason) in &outbox.failed {
                out.write_all(&record_line(&Record::Add(q.clone())))?;
                out.write_all(&record_line(&Record::Failed(Failed {
                    id: q.message.id.clone(),
                    reason: reason.clone(),
                })))?;
            }
            out.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        sync_dir(dir);
        let file = OpenOptions::new().append(true).open(path)?;
        outbox.file = Some((path.to_path_buf(), file));
        Ok(outbox)
    }

    fn replay(&mut self, record: Record) {
        match record {
            Record::Add(q) => {
                // A retried message is added again: it is pending, no longer failed.
                self.failed.retain(|(f, _)| f.message.id != q.message.id);
                self.pending.push_back(q);
            }
            Record::Done(id) => self.pending.retain(|q| q.message.id != id),
            Record::Failed(f) => {
                if let Some(i) = self.pending.iter().position(|q| q.message.id == f.id) {
                    let q = self.pending.remove(i).expect("index from position");
                    self.failed.push((q, f.reason));
                }
            }
        }
    }

    /// Accepts a message: on disk (synced) before this returns. On a write error nothing is
    /// queued and the file is cut back to where it was, so a partial record cannot swallow
    /// the next one.
    pub fn push(&mut self, queued: Queued) -> std::io::Result<()> {
        if let Some((_, file)) = &mut self.file {
            append(file, &record_line(&Record::Add(queued.clone())))?;
            file.sync_data()?;
        }
        self.failed
            .retain(|(f, _)| f.message.id != queued.message.id);
        self.pending.push_back(queued);
        Ok(())
    }

    /// Moves a pending message to the failed ones, with Redis's reason.
    pub fn fail(&mut self, id: &str, reason: &str) {
        let Some(i) = self.pending.iter().position(|q| q.message.id == id) else {
            return;
        };
        let q = self.pending.remove(i).expect("index from position");
        self.failed.push((q, reason.to_string()));
        if let Some((path, file)) = &mut self.file {
            let record = Record::Failed(Failed {
                id: id.to_string(),
                reason: reason.to_string(),
            });
            if let Err(e) = append(file, &record_line(&record)) {
                tracing::warn!("could not update the outbox {}: {e}", path.display());
            }
        }
    }

    /// Failed messages with their reasons, oldest first.
    pub fn failed(&self) -> &[(Queued, String)] {
        &self.failed
    }

    /// The failed message whose id is `id`, or the only one starting with it.
    pub fn find_failed(&self, id: &str) -> Option<Queued> {
        let exact = self.failed.iter().find(|(q, _)| q.message.id == id);
        let found = exact.or_else(|| {
            let mut matching = self
                .failed
                .iter()
                .filter(|(q, _)| q.message.id.starts_with(id));
            match (matching.next(), matching.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        });
        found.map(|(q, _)| q.clone())
    }

    /// Up to `max` messages from the front, oldest first.
    pub fn front(&self, max: usize) -> Vec<Queued> {
        self.pending.iter().take(max).cloned().collect()
    }

    /// Every pending message, oldest first.
    pub fn all(&self) -> Vec<Queued> {
        self.pending.iter().cloned().collect()
    }

    /// Number of pending messages.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Removes the messages with these ids (confirmed by Redis, or taken back).
    pub fn remove(&mut self, ids: &[&str]) {
        self.pending
            .retain(|q| !ids.contains(&q.message.id.as_str()));
        let Some((path, file)) = &mut self.file else {
            return;
        };
        let result = if self.pending.is_empty() && self.failed.is_empty() {
            // Nothing pending: start the file over (append mode keeps writing at the end).
            file.set_len(0)
        } else {
            ids.iter()
                .try_for_each(|id| append(file, &record_line(&Record::Done((*id).to_string()))))
        };
        // Losing a "done" mark only means a resend, which the recipient hides by id.
        if let Err(e) = result {
            tracing::warn!("could not update the outbox {}: {e}", path.display());
        }
    }
}

/// One record as a JSON line, newline included.
fn record_line(record: &Record) -> Vec<u8> {
    let mut line = serde_json::to_vec(record).expect("outbox records always serialise");
    line.push(b'\n');
    line
}

/// Appends `line` in one write; on failure cuts the file back to its previous length.
fn append(file: &mut File, line: &[u8]) -> std::io::Result<()> {
    let before = file.metadata()?.len();
    file.write_all(line).inspect_err(|_| {
        let _ = file.set_len(before);
    })
}

/// Makes a rename in `dir` durable (best effort: not every platform can open a directory).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: &str) -> Queued {
        let (mut message, payload) = crate::wire::encode("alice", "bob", "bob", id).unwrap();
        message.id = id.to_string();
        Queued {
            message,
            stream: Some("inbox".into()),
            copy_to: None,
            payload: String::from_utf8(payload).unwrap(),
        }
    }

    fn ids(outbox: &Outbox) -> Vec<String> {
        outbox.all().into_iter().map(|q| q.message.id).collect()
    }

    #[test]
    fn survives_reopening_in_order_without_the_sent_ones() {
        let dir = std::env::temp_dir().join(format!("redchat-outbox-{}", crate::wire::new_id()));
        let path = dir.join("outbox.jsonl");
        let mut outbox = Outbox::open(&path).unwrap();
        for id in ["a", "b", "c", "d"] {
            outbox.push(queued(id)).unwrap();
        }
        outbox.remove(&["a", "c"]);
        drop(outbox);
        let mut reopened = Outbox::open(&path).unwrap();
        assert_eq!(ids(&reopened), ["b", "d"]);
        assert_eq!(reopened.front(1)[0].message.id, "b");
        reopened.remove(&["b", "d"]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            0,
            "empty outbox, empty file"
        );
        reopened.push(queued("e")).unwrap();
        drop(reopened);
        assert_eq!(ids(&Outbox::open(&path).unwrap()), ["e"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failed_messages_survive_reopening_until_retried() {
        let dir = std::env::temp_dir().join(format!("redchat-outbox-{}", crate::wire::new_id()));
        let path = dir.join("outbox.jsonl");
        let mut outbox = Outbox::open(&path).unwrap();
        for id in ["a", "b"] {
            outbox.push(queued(id)).unwrap();
        }
        outbox.fail("a", "WRONGTYPE");
        outbox.remove(&["b"]);
        assert_ne!(
            std::fs::metadata(&path).unwrap().len(),
            0,
            "a failed one keeps the file"
        );
        drop(outbox);
        let mut reopened = Outbox::open(&path).unwrap();
        assert!(reopened.all().is_empty());
        assert_eq!(reopened.failed().len(), 1);
        assert_eq!(reopened.failed()[0].1, "WRONGTYPE");
        let again = reopened.find_failed("a").unwrap();
        reopened.push(again).unwrap();
        assert!(reopened.failed().is_empty());
        drop(reopened);
        let reopened = Outbox::open(&path).unwrap();
        assert_eq!(
            ids(&reopened),
            ["a"],
            "retried: pending again, no longer failed"
        );
        assert!(reopened.failed().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("redchat-outbox-{}", crate::wire::new_id()));
        let path = dir.join("outbox.jsonl");
        let mut outbox = Outbox::open(&path).unwrap();
        outbox.push(queued("a")).unwrap();
        drop(outbox);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        // Torn inside a multi-byte character (a power cut mid-write), then a good record.
        let torn = "{\"add\":{\"message\":{\"id\":\"b\",\"content\":\"caf\u{e9}";
        file.write_all(&torn.as_bytes()[..torn.len() - 1]).unwrap();
        file.write_all(b"\n").unwrap();
        drop(file);
        let mut outbox = Outbox::open(&path).unwrap();
        assert_eq!(ids(&outbox), ["a"]);
        outbox.push(queued("c")).unwrap();
        drop(outbox);
        assert_eq!(ids(&Outbox::open(&path).unwrap()), ["a", "c"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
