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
//! system is not for high throughput; one Channel send per frame is). After a page reload the
//! old channel is gone: the page calls `attach` with a new one, and what arrived in between
//! (up to [`DETACHED_LIMIT`] events) is delivered then.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::{Event, Events};
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
/// Most events kept while no page is attached; beyond this the oldest are dropped and the
/// page is told how many with an unreadable-style notice.
pub const DETACHED_LIMIT: usize = 100_000;

/// Smallest payload Tauri delivers by fetch rather than by evaluating script source.
pub const MIN_FETCH_BYTES: usize = 1024;

/// The channel events currently go to, swappable on `attach`.
pub type Target = Arc<Mutex<Option<Channel<InvokeResponseBody>>>>;

/// A batch as JSON bytes, padded with spaces (valid JSON whitespace) to [`MIN_FETCH_BYTES`].
pub fn encode(batch: &[Event]) -> InvokeResponseBody {
    let mut bytes = serde_json::to_vec(batch).unwrap_or_else(|_| b"[]".to_vec());
    if bytes.len() < MIN_FETCH_BYTES {
        bytes.resize(MIN_FETCH_BYTES, b' ');
    }
    InvokeResponseBody::Raw(bytes)
}

/// Forwards `events` to `target` until the session ends (after its `Disconnected` status).
pub async fn forward(mut events: Events, target: Target, credit: Credit) {
    let mut pending: Vec<Event> = Vec::new();
    let mut last_send: Option<Instant> = None;
    loop {
        if events.recv_many(&mut pending, MAX_BATCH).await == 0 {
            break;
        }
        if let Some(last) = last_send
            && last.elapsed() < FRAME
        {
            tokio::time::sleep_until(last + FRAME).await;
            while let Some(event) = events.try_recv() {
                pending.push(event);
            }
        }
        let channel = target.lock().expect("stream target lock").clone();
        match channel {
            Some(channel) => {
                if let Ok(Ok(permit)) = tokio::time::timeout(ACK_LIMIT, credit.acquire()).await {
                    permit.forget();
                }
                while let Some(event) = events.try_recv() {
                    pending.push(event);
                }
                while !pending.is_empty() {
                    let rest = pending.split_off(pending.len().min(MAX_BATCH));
                    let batch = std::mem::replace(&mut pending, rest);
                    if channel.send(encode(&batch)).is_err() {
                        *target.lock().expect("stream target lock") = None;
                        break;
                    }
                }
                last_send = Some(Instant::now());
            }
            None if pending.len() > DETACHED_LIMIT => {
                let excess = pending.len() - DETACHED_LIMIT;
                pending.drain(..excess);
                tracing::warn!("no page attached: dropped {excess} old events");
            }
            None => {}
        }
    }
    if let Some(channel) = target.lock().expect("stream target lock").clone()
        && !pending.is_empty()
    {
        let _ = channel.send(encode(&pending));
    }
}
