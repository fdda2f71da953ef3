//! Reading the inbox and sent streams: entries, catch-up and history pages.
//!
//! Every stream entry has one field, `payload`, holding the message exactly as it was
//! PUBLISHed. Entry ids are server times (`<ms>-<seq>`), so the inbox and the sent stream
//! of one server merge into one timeline by id.

use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::store::entry_id;
use crate::username::Username;
use crate::wire::{self, ChatMessage, Incoming};

/// The field holding the message in a stream entry.
pub(crate) const PAYLOAD_FIELD: &str = "payload";
/// Entries fetched per XREVRANGE while paging history.
const SCAN_CHUNK: usize = 200;
/// Most entries examined for one history page (a rare peer in a long stream stops here and
/// returns a cursor to continue).
const SCAN_BUDGET: usize = 5_000;

/// One stream entry: its id and its payload (if it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: String,
    pub payload: Option<Vec<u8>>,
}

impl Entry {
    /// The entry decoded as received on `channel`, stamped with the time the server stored it.
    pub fn decode(&self, channel: &str) -> Incoming {
        let mut incoming = match &self.payload {
            Some(payload) => wire::decode(channel, payload),
            None => wire::decode(channel, b"\x00stream entry without a payload field"),
        };
        let stored_at = entry_time(&self.id);
        match &mut incoming {
            Incoming::Chat(m) => {
                m.received_at = stored_at;
                // Legacy payloads have no MessageId: the entry id is unique and stable.
                if m.legacy {
                    m.id = format!("entry:{channel}:{}", self.id);
                }
            }
            Incoming::Plain(p) => p.received_at = stored_at,
            Incoming::Unreadable(u) => u.received_at = stored_at,
        }
        incoming
    }
}

/// RFC 3339 time of a stream entry id (its millisecond part).
fn entry_time(id: &str) -> String {
    entry_id(id)
        .and_then(|(ms, _)| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(wire::now_rfc3339)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// Entries of an XRANGE/XREVRANGE reply, or of one stream in an XREAD reply.
pub(crate) fn entries(v: Value) -> Vec<Entry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = text(&pair.pop()?)?;
            let flat: Vec<Value> = match fields {
                Value::Array(f) => f,
                Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                _ => Vec::new(),
            };
            let payload = flat.chunks(2).find_map(|kv| match kv {
                [k, Value::BulkString(v)] if text(k).as_deref() == Some(PAYLOAD_FIELD) => {
                    Some(v.clone())
                }
                _ => None,
            });
            Some(Entry { id, payload })
        })
        .collect()
}

/// Entries of an XREAD reply for a single stream (RESP3 map or RESP2 array); none on nil.
pub(crate) fn read_reply(v: Value) -> Vec<Entry> {
    match v {
        Value::Map(streams) => streams
            .into_iter()
            .flat_map(|(_, entries_value)| entries(entries_value))
            .collect(),
        Value::Array(streams) => streams
            .into_iter()
            .flat_map(|s| match s {
                Value::Array(mut kv) if kv.len() == 2 => entries(kv.pop().unwrap_or(Value::Nil)),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where the next older history page starts: exclusive upper bounds per stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryCursor {
    /// Inbox entries older than this id; `None`: from the newest.
    pub inbox: Option<String>,
    /// Sent entries older than this id; `None`: from the newest.
    pub sent: Option<String>,
}

/// A page of history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// Messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Where the next older page starts; `None` when there is nothing older.
    pub more: Option<HistoryCursor>,
}

/// One stream being read newest-first, filtered to a conversation.
struct Scan<'a> {
    key: &'a str,
    /// Exclusive upper bound for the next fetch (`None`: from the newest).
    upper: Option<String>,
    /// Id of the last entry handed out (the page cursor).
    consumed: Option<String>,
    exhausted: bool,
    buffered: std::collections::VecDeque<(String, ChatMessage)>,
    keep: Box<dyn Fn(&ChatMessage) -> bool + Send + 'a>,
}

impl Scan<'_> {
    async fn fill(&mut self, conn: &mut MultiplexedConnection, budget: &mut usize) -> Result<()> {
        while self.buffered.is_empty() && !self.exhausted && *budget > 0 {
            let upper = self
                .upper
                .as_ref()
                .map_or_else(|| "+".to_string(), |id| format!("({id}"));
            let reply: Value = redis::cmd("XREVRANGE")
                .arg(self.key)
                .arg(upper)
                .arg("-")
                .arg("COUNT")
                .arg(SCAN_CHUNK)
                .query_async(conn)
                .await
                .map_err(|e| Error::Redis(e.to_string()))?;
            let batch = entries(reply);
            *budget = budget.saturating_sub(batch.len().max(1));
            self.exhausted = batch.len() < SCAN_CHUNK;
            if let Some(last) = batch.last() {
                self.upper = Some(last.id.clone());
            }
            for entry in batch {
                if let Incoming::Chat(m) = entry.decode(self.key)
                    && (self.keep)(&m)
                {
                    self.buffered.push_back((entry.id, m));
                } else if self.buffered.is_empty() {
                    // Skipped entries still move the page cursor.
                    self.consumed = Some(entry.id);
                }
            }
        }
        Ok(())
    }

    /// Order key of the next entry: server time, then (within one millisecond, where the
    /// two streams' sequence numbers are unrelated) the sender's time, then the sequence.
    fn head(&self) -> Option<(u64, i64, u64)> {
        let (id, m) = self.buffered.front()?;
        let (ms, seq) = entry_id(id)?;
        Some((ms, m.sent_at_micros().unwrap_or(0), seq))
    }

    fn take(&mut self) -> Option<ChatMessage> {
        let (id, m) = self.buffered.pop_front()?;
        self.consumed = Some(id);
        Some(m)
    }

    /// The page cursor: the last entry handed out or skipped. Buffered entries not handed
    /// out are below it, so the next page reads them again.
    fn cursor(&self) -> Option<String> {
        self.consumed.clone()
    }

    fn done(&self) -> bool {
        self.exhausted && self.buffered.is_empty()
    }
}

/// A page of the conversation with `peer` (all conversations when `None`) from the inbox
/// and sent streams, newest `limit` messages older than `before`.
pub(crate) async fn history(
    conn: &mut MultiplexedConnection,
    (inbox_key, sent_key): (&str, &str),
    peer: Option<&Username>,
    before: Option<HistoryCursor>,
    limit: usize,
) -> Result<HistoryPage> {
    let before = before.unwrap_or_default();
    let peer_name = peer.map(|p| p.as_str().to_string());
    let peer_to = peer_name.clone();
    let from_peer = move |m: &ChatMessage| {
        peer_name
            .as_deref()
            .is_none_or(|p| Username::parse(&m.sender).is_ok_and(|s| s.as_str() == p))
    };
    let to_peer = move |m: &ChatMessage| {
        peer_to.as_deref().is_none_or(|p| {
            m.to.as_deref()
                .and_then(|t| Username::parse(t).ok())
                .is_some_and(|t| t.as_str() == p)
        })
    };
    let mut scans = [
        Scan {
            key: inbox_key,
            upper: before.inbox.clone(),
            consumed: None,
            exhausted: false,
            buffered: Default::default(),
            keep: Box::new(from_peer),
        },
        Scan {
            key: sent_key,
            upper: before.sent.clone(),
            consumed: None,
            exhausted: false,
            buffered: Default::default(),
            keep: Box::new(to_peer),
        },
    ];
    let mut budget = SCAN_BUDGET;
    let mut newest_first = Vec::with_capacity(limit);
    // A message retried after a partial failure can be in a stream twice: show it once.
    let mut ids = std::collections::HashSet::new();
    while newest_first.len() < limit {
        for scan in &mut scans {
            scan.fill(conn, &mut budget).await?;
        }
        // Out of budget with a stream not read far enough: its next message could be newer
        // than the other stream's head, so the page ends here (the cursor continues it).
        if scans
            .iter()
            .any(|scan| !scan.done() && scan.head().is_none())
        {
            break;
        }
        let pick = match (scans[0].head(), scans[1].head()) {
            (Some(a), Some(b)) => usize::from(b > a),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => break,
        };
        if let Some(m) = scans[pick].take()
            && ids.insert(m.id.clone())
        {
            newest_first.push(m);
        }
    }
    let more = if scans.iter().all(Scan::done) {
        None
    } else {
        Some(HistoryCursor {
            inbox: scans[0].cursor().or(before.inbox),
            sent: scans[1].cursor().or(before.sent),
        })
    };
    newest_first.reverse();
    Ok(HistoryPage {
        messages: newest_first,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_entries_in_both_protocols() {
        let entry = |id: &str, payload: &str| {
            Value::Array(vec![
                bulk(id),
                Value::Array(vec![bulk("payload"), bulk(payload)]),
            ])
        };
        let range = Value::Array(vec![entry("1-0", "a"), entry("2-0", "b")]);
        let got = entries(range.clone());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].payload.as_deref(), Some(&b"b"[..]));
        let resp3 = Value::Map(vec![(bulk("inbox"), range.clone())]);
        assert_eq!(read_reply(resp3), got);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("inbox"), range])]);
        assert_eq!(read_reply(resp2), got);
        assert!(read_reply(Value::Nil).is_empty());
    }

    #[test]
    fn hostile_entries_become_unreadable_not_errors() {
        let odd = Value::Array(vec![
            Value::Array(vec![
                bulk("3-0"),
                Value::Array(vec![bulk("other"), bulk("x")]),
            ]),
            Value::Int(7),
            Value::Array(vec![bulk("4-0")]),
        ]);
        let got = entries(odd);
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0].decode("inbox"), Incoming::Unreadable(_)));
    }

    #[test]
    fn entries_are_stamped_with_the_server_time() {
        let e = Entry {
            id: "1700000000000-0".into(),
            payload: Some(br#"{"Sender":"bob","Content":"hi"}"#.to_vec()),
        };
        let Incoming::Chat(m) = e.decode("redchat:inbox:alice") else {
            panic!("chat expected")
        };
        assert_eq!(m.received_at, "2023-11-14T22:13:20Z");
        assert_eq!(m.id, "entry:redchat:inbox:alice:1700000000000-0");
    }
}
