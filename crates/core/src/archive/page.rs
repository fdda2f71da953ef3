//! What reads of the store return: pages, positions, search results, a hit in context.

use serde::Serialize;

use crate::wire::ChatMessage;

/// A position in a conversation's stored history: messages strictly older are next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Order time (ms).
    pub at: i64,
    /// Insertion order among messages of the same `at` (`i64::MIN`: none of that `at`).
    pub seq: i64,
}

impl Bound {
    /// `"<at>:<seq>"`, or `"<at>"` (strictly older than `at`).
    pub fn parse(text: &str) -> Option<Bound> {
        let (at, seq) = match text.split_once(':') {
            Some((at, seq)) => (at.parse().ok()?, seq.parse().ok()?),
            None => (text.parse().ok()?, i64::MIN),
        };
        Some(Bound { at, seq })
    }

    /// The text [`Bound::parse`] reads.
    pub fn encode(self) -> String {
        if self.seq == i64::MIN {
            self.at.to_string()
        } else {
            format!("{}:{}", self.at, self.seq)
        }
    }
}

/// A page of stored history, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Where the next older page starts, when the page was full.
    pub older: Option<Bound>,
}

/// What a search found, newest first.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    /// The messages found, newest first.
    pub hits: Vec<ChatMessage>,
    /// The words searched for (to highlight them).
    pub words: Vec<String>,
    /// More matched than `limit`.
    pub more: bool,
}

/// A message with the messages around it (for "open in context").
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Oldest first, the message among them.
    pub messages: Vec<ChatMessage>,
    /// Where older messages start.
    pub older: Option<Bound>,
    /// Newer messages exist beyond the last one.
    pub newer: bool,
}
