//! Reading the inbox and sent streams: entries, catch-up and history pages.
//!
//! Every stream entry has one field, `payload`, holding the message exactly as it was
//! PUBLISHed. Entry ids are server times (`<ms>-<seq>`), so the inbox and the sent stream
//! of one server merge into one timeline by id.

use crate::session::Conn;
use redis::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::store::entry_id;
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
        let stored_ms = entry_id(&self.id).map(|(ms, _)| ms as i64);
        let stored_at = stored_ms.map_or_else(wire::now_rfc3339, wire::ms_to_rfc3339);
        match &mut incoming {
            Incoming::Chat(m) => {
                m.received_at = stored_at;
                if let Some(ms) = stored_ms {
                    m.at = ms;
                }
                // Legacy payloads have no MessageId: the entry id is unique and stable.
                if m.legacy {
                    m.id = format!("entry:{channel}:{}", self.id);
                }
            }
            Incoming::Plain(p) => p.received_at = stored_at,
            Incoming::Unreadable(u) => u.received_at = stored_at,
            Incoming::Membership(m) => {
                m.received_at = stored_at;
                if let Some(ms) = stored_ms {
                    m.at = ms;
                }
            }
            _ => {}
        }
        incoming
    }
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
            let mut payload = None;
            let mut items = flat.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                if let Value::BulkString(v) = v
                    && text(&k).as_deref() == Some(PAYLOAD_FIELD)
                {
                    payload = Some(v);
                    break;
                }
            }
            Some(Entry { id, payload })
        })
        .collect()
}

/// Stream key → entries of an XREAD reply (RESP3 map or RESP2 array).
pub(crate) fn read_streams(v: Value) -> Vec<(String, Vec<Entry>)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    match v {
        Value::Map(streams) => streams
            .into_iter()
            .filter_map(|(k, list)| Some((text(&k)?, entries(list))))
            .collect(),
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|s| match s {
                Value::Array(mut kv) if kv.len() == 2 => {
                    let list = kv.pop()?;
                    Some((text(&kv[0])?, entries(list)))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Member/score pairs of a `ZRANGE … WITHSCORES` reply (RESP3 pairs or RESP2 flat array);
/// garbage is skipped.
pub(crate) fn scored(v: Value) -> Vec<(String, f64)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let score = |v: &Value| match v {
        Value::Double(d) if d.is_finite() => Some(*d),
        other => text(other)?.parse::<f64>().ok().filter(|d| d.is_finite()),
    };
    let Value::Array(items) = v else {
        return Vec::new();
    };
    if items.iter().all(|i| matches!(i, Value::Array(_))) {
        items
            .iter()
            .filter_map(|i| match i {
                Value::Array(pair) if pair.len() == 2 => Some((text(&pair[0])?, score(&pair[1])?)),
                _ => None,
            })
            .collect()
    } else {
        items
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((text(k)?, score(v)?)),
                _ => None,
            })
            .collect()
    }
}

/// Where the next older history page starts: per stream key, an exclusive upper bound (a
/// stream not named is read from its newest entry). Opaque to callers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HistoryCursor(pub BTreeMap<String, String>);

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
    keep: Box<dyn Fn(&ChatMessage) -> bool + Send + Sync + 'a>,
}

impl Scan<'_> {
    async fn fill(
        &mut self,
        conn: &mut Conn,
        budget: &mut usize,
        classify: &(dyn Fn(&str, &mut ChatMessage) + Send + Sync),
    ) -> Result<()> {
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
                if let Incoming::Chat(mut m) = entry.decode(self.key)
                    && {
                        classify(self.key, &mut m);
                        (self.keep)(&m)
                    }
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

/// One stream to page through, and which of its messages belong to the page.
pub(crate) struct Source<'a> {
    pub key: String,
    pub keep: Box<dyn Fn(&ChatMessage) -> bool + Send + Sync + 'a>,
}

/// A page of history merged from `sources` (newest `limit` messages older than `before`),
/// oldest first. `classify` sets each message's conversation, as the inbound path does.
pub(crate) async fn history(
    conn: &mut Conn,
    sources: Vec<Source<'_>>,
    classify: &(dyn Fn(&str, &mut ChatMessage) + Send + Sync),
    before: Option<HistoryCursor>,
    limit: usize,
) -> Result<HistoryPage> {
    let before = before.unwrap_or_default();
    let mut scans: Vec<Scan<'_>> = sources
        .iter()
        .map(|source| Scan {
            key: &source.key,
            upper: before.0.get(&source.key).cloned(),
            consumed: None,
            exhausted: false,
            buffered: Default::default(),
            keep: Box::new(|m: &ChatMessage| (source.keep)(m)),
        })
        .collect();
    let mut budget = SCAN_BUDGET;
    let mut newest_first = Vec::with_capacity(limit);
    // A message retried after a partial failure can be in a stream twice: show it once.
    let mut ids = std::collections::HashSet::new();
    while newest_first.len() < limit {
        for scan in &mut scans {
            scan.fill(conn, &mut budget, classify).await?;
        }
        // Out of budget with a stream not read far enough: its next message could be newer
        // than the other streams' heads, so the page ends here (the cursor continues it).
        if scans
            .iter()
            .any(|scan| !scan.done() && scan.head().is_none())
        {
            break;
        }
        let pick = scans
            .iter()
            .enumerate()
            .filter_map(|(i, scan)| scan.head().map(|h| (h, i)))
            .max()
            .map(|(_, i)| i);
        let Some(pick) = pick else { break };
        if let Some(m) = scans[pick].take()
            && ids.insert(m.id.clone())
        {
            newest_first.push(m);
        }
    }
    let more = if scans.iter().all(Scan::done) {
        None
    } else {
        let mut cursor = before.0.clone();
        for scan in &scans {
            if let Some(id) = scan.cursor() {
                cursor.insert(scan.key.to_string(), id);
            }
        }
        Some(HistoryCursor(cursor))
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
        let want = vec![("inbox".to_string(), got)];
        assert_eq!(read_streams(resp3), want);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("inbox"), range])]);
        assert_eq!(read_streams(resp2), want);
        assert!(read_streams(Value::Nil).is_empty());
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
        let Incoming::Chat(m) = e.decode("inbox") else {
            panic!("chat expected")
        };
        assert_eq!(m.received_at, "2023-11-14T22:13:20Z");
        assert_eq!(m.at, 1_700_000_000_000);
        assert_eq!(m.id, "entry:inbox:1700000000000-0");
    }
}
