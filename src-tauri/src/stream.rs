//! Streams a session's events to the page over a `tauri::ipc::Channel`, batched.
//!
//! Leading-edge throttle: a lone message after a quiet spell goes out at once; under a
//! firehose, events collect and go out at most once per [`FRAME`] in one send (the event
//! system is not for high throughput; one Channel send per frame is). After a page reload the
//! old channel is gone: the page calls `attach` with a new one, and what arrived in between
//! (up to [`DETACHED_LIMIT`] events) is delivered then.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::{Event, Events};
use tauri::ipc::Channel;
use tokio::time::Instant;

/// Minimum time between two sends to the page.
pub const FRAME: Duration = Duration::from_millis(16);
/// Most events in one send.
pub const MAX_BATCH: usize = 4096;
/// Most events kept while no page is attached; beyond this the oldest are dropped and the
/// page is told how many with an unreadable-style notice.
pub const DETACHED_LIMIT: usize = 100_000;

/// The channel events currently go to, swappable on `attach`.
pub type Target = Arc<Mutex<Option<Channel<Vec<Event>>>>>;

/// Forwards `events` to `target` until the session ends (after its `Disconnected` status).
pub async fn forward(mut events: Events, target: Target) {
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
                while !pending.is_empty() {
                    let rest = pending.split_off(pending.len().min(MAX_BATCH));
                    let batch = std::mem::replace(&mut pending, rest);
                    if channel.send(batch).is_err() {
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
        let _ = channel.send(pending);
    }
}
