//! Streams a session's events to the page over a `tauri::ipc::Channel`, batched.
//!
//! Batches go as raw JSON bytes of at least [`MIN_FETCH_BYTES`], so Tauri hands them over
//! through its fetch path: small payloads would be `eval`ed as script source, which WebKit
//! (GTK and Cocoa) retains in proportion to the bytes evaluated (measured here: 1.2 GiB PSS
//! after 30k messages).
//!
//! Flow control: after each send the forwarder waits for the page's `ack_events` (or
//! [`ACK_LIMIT`]) before the next, collecting meanwhile. A page that renders slower than
//! messages arrive then gets fewer, larger batches instead of an ever longer queue of small
//! ones, so publish→rendered latency stays bounded by one render rather than growing.
//!
//! Leading-edge throttle: a lone message after a quiet spell goes out at once; under a
//! firehose, events collect and go out at most once per [`FRAME`] in one send (the event
//! system is not for high throughput; one Channel send per frame is). Each send is capped at
//! [`MAX_BATCH`] events and [`MAX_BATCH_BYTES`]; what waits is capped at [`PENDING_LIMIT`]
//! events, the oldest dropped beyond it and counted in an `overflow` notice. After a page
//! reload the old channel is gone: the page calls `attach` with a new one, and what arrived
//! in between is delivered then.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::{Event, Events, NoticeCode};
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio::time::Instant;

/// Minimum time between two sends to the page.
pub const FRAME: Duration = Duration::from_millis(16);
/// Most events in one send.
pub const MAX_BATCH: usize = 50_000;
/// Longest wait for the page's acknowledgement before sending anyway (a reloaded page
/// never acknowledges the old channel).
pub const ACK_LIMIT: Duration = Duration::from_secs(1);

/// Send credit: one permit per batch the page may receive before acknowledging.
pub type Credit = Arc<tokio::sync::Semaphore>;

/// A fresh credit allowing one batch in flight.
pub fn credit() -> Credit {
    Arc::new(tokio::sync::Semaphore::new(1))
}

/// The page finished a batch: allow the next.
pub fn acknowledge(credit: &Credit) {
    if credit.available_permits() == 0 {
        credit.add_permits(1);
    }
}
/// Most bytes of JSON in one send: a batch of hostile 64 KiB messages is cut here, the rest
/// goes with the next acknowledged send.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Most events waiting for the page (slow, or none attached). Beyond this the oldest are
/// dropped, counted, and the page is told with an `overflow` notice; stored messages stay
/// in history.
pub const PENDING_LIMIT: usize = 100_000;
/// Most bytes of JSON waiting for the page, likewise.
pub const PENDING_BYTES: usize = 256 * 1024 * 1024;

/// Smallest payload Tauri delivers by fetch rather than by evaluating script source.
pub const MIN_FETCH_BYTES: usize = 1024;

/// The channel events currently go to, swappable on `attach`.
pub type Target = Arc<Mutex<Option<Channel<InvokeResponseBody>>>>;

/// Events as JSON, each encoded once; [`Pending::take_batch`] cuts batches by bytes.
#[derive(Default)]
pub struct Pending {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    dropped: u64,
}

impl Pending {
    fn push(&mut self, event: &Event) {
        crate::logging::event(event);
        match serde_json::to_vec(event) {
            Ok(bytes) => {
                self.bytes += bytes.len();
                self.queue.push_back(bytes);
            }
            Err(e) => tracing::warn!("cannot encode an event: {e}"),
        }
        while self.queue.len() > PENDING_LIMIT || self.bytes > PENDING_BYTES {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            self.dropped += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.dropped == 0
    }

    /// The next batch: at most [`MAX_BATCH`] events and (unless one event alone is larger)
    /// [`MAX_BATCH_BYTES`], led by an overflow notice if events were dropped.
    pub fn take_batch(&mut self) -> InvokeResponseBody {
        let mut bytes = Vec::with_capacity(MIN_FETCH_BYTES);
        bytes.push(b'[');
        let mut count = 0;
        if self.dropped > 0 {
            let notice = Event::Notice {
                code: NoticeCode::Overflow,
                text: format!(
                    "{} events arrived faster than the window could show them and were left out; stored messages are still in the history.",
                    std::mem::take(&mut self.dropped)
                ),
            };
            bytes.extend(serde_json::to_vec(&notice).unwrap_or_default());
            count += 1;
        }
        while let Some(next) = self.queue.front() {
            let over = bytes.len() + next.len() > MAX_BATCH_BYTES;
            if count > 0 && (count >= MAX_BATCH || over) {
                break;
            }
            if count > 0 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(next);
            self.bytes -= next.len();
            self.queue.pop_front();
            count += 1;
        }
        bytes.push(b']');
        if bytes.len() < MIN_FETCH_BYTES {
            bytes.resize(MIN_FETCH_BYTES, b' ');
        }
        InvokeResponseBody::Raw(bytes)
    }
}

/// A batch as JSON bytes, padded with spaces (valid JSON whitespace) to [`MIN_FETCH_BYTES`].
pub fn encode(batch: &[Event]) -> InvokeResponseBody {
    let mut pending = Pending::default();
    for event in batch {
        pending.push(event);
    }
    pending.take_batch()
}

/// Forwards `events` to `target` until the session ends (after its `Disconnected` status).
/// One batch per acknowledgement (or [`ACK_LIMIT`]), so a flood waits here, bounded, rather
/// than in the page.
pub async fn forward(mut events: Events, target: Target, credit: Credit) {
    let mut pending = Pending::default();
    let mut incoming: Vec<Event> = Vec::new();
    let mut last_send: Option<Instant> = None;
    let mut ended = false;
    while !ended || !pending.is_empty() {
        if pending.is_empty() {
            if events.recv_many(&mut incoming, MAX_BATCH).await == 0 {
                break;
            }
            for event in incoming.drain(..) {
                pending.push(&event);
            }
        }
        if let Some(last) = last_send
            && last.elapsed() < FRAME
        {
            tokio::time::sleep_until(last + FRAME).await;
        }
        let channel = target.lock().expect("stream target lock").clone();
        let Some(channel) = channel else {
            // No page: keep collecting (bounded) until one attaches.
            tokio::select! {
                n = events.recv_many(&mut incoming, MAX_BATCH), if !ended => {
                    ended = n == 0;
                    for event in incoming.drain(..) {
                        pending.push(&event);
                    }
                }
                _ = tokio::time::sleep(FRAME), if ended => {}
            }
            if ended {
                break;
            }
            continue;
        };
        if let Ok(Ok(permit)) = tokio::time::timeout(ACK_LIMIT, credit.acquire()).await {
            permit.forget();
        }
        while let Some(event) = events.try_recv() {
            pending.push(&event);
        }
        if channel.send(pending.take_batch()).is_err() {
            *target.lock().expect("stream target lock") = None;
        }
        last_send = Some(Instant::now());
    }
    if let Some(channel) = target.lock().expect("stream target lock").clone() {
        while !pending.is_empty() {
            if channel.send(pending.take_batch()).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(body: InvokeResponseBody) -> Vec<u8> {
        match body {
            InvokeResponseBody::Raw(b) => b,
            InvokeResponseBody::Json(j) => j.into_bytes(),
        }
    }

    fn notice(text: String) -> Event {
        Event::Notice {
            code: NoticeCode::StreamReset,
            text,
        }
    }

    #[test]
    fn a_flood_of_huge_events_goes_out_in_batches_under_the_byte_cap() {
        let mut pending = Pending::default();
        for _ in 0..200 {
            pending.push(&notice("x".repeat(64 * 1024)));
        }
        let mut batches = 0;
        let mut events = 0;
        while !pending.is_empty() {
            let bytes = raw(pending.take_batch());
            assert!(bytes.len() <= MAX_BATCH_BYTES + 2, "{} bytes", bytes.len());
            let parsed: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
            events += parsed.len();
            batches += 1;
        }
        assert_eq!(events, 200);
        assert!(batches >= 3, "cut into {batches} batches");
    }

    #[test]
    fn events_beyond_the_pending_limit_are_dropped_and_counted() {
        let mut pending = Pending::default();
        for i in 0..PENDING_LIMIT + 10 {
            pending.push(&notice(i.to_string()));
        }
        let first: Vec<serde_json::Value> =
            serde_json::from_slice(&raw(pending.take_batch())).unwrap();
        assert_eq!(first[0]["kind"], "notice");
        assert_eq!(first[0]["code"], "overflow");
        assert!(first[0]["text"].as_str().unwrap().starts_with("10 events"));
        assert_eq!(first[1]["text"], "10", "the oldest were dropped");
    }
}
