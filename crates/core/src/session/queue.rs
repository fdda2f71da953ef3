//! Bounds on the two queues hostile volume can fill: the inbound queue (everything that
//! arrives, before it is judged) and the event queue (what the window or CLI has not read
//! yet). Both stay Tokio unbounded channels underneath (redis-rs pushes into an unbounded
//! one anyway, and a task must never block on a slow reader), with a gauge of what waits:
//! beyond the limit, what can be dropped is dropped and **counted**, and an `overflow`
//! notice says how much. Nothing is dropped silently; control items never are.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::inbound::Inbound;

/// Live payloads waiting for the inbound task beyond which new ones are dropped (counted).
pub(crate) const INBOUND_LIMIT: usize = 100_000;
/// Bytes of live payloads waiting for the inbound task beyond which new ones are dropped
/// (counted): 100,000 payloads of 64 KiB would be 6 GB.
pub(crate) const INBOUND_BYTES: usize = 256 * 1024 * 1024;
/// Hints waiting for the effects task beyond which new ones are dropped (counted).
pub(crate) const EFFECTS_LIMIT: usize = 10_000;
/// Events waiting for the caller beyond which message-like ones are dropped (counted).
pub(crate) const EVENTS_LIMIT: usize = 200_000;

/// What waits in a queue, and what was dropped from it.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    waiting: AtomicUsize,
    /// Bytes of the live payloads waiting.
    bytes: AtomicUsize,
    dropped: AtomicU64,
}

impl Gauge {
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn added(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    pub fn taken(&self, n: usize) {
        self.waiting.fetch_sub(n, Ordering::Relaxed);
    }

    /// A live payload of `n` bytes left the queue.
    pub fn bytes_taken(&self, n: usize) {
        self.bytes.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// What was dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// The sending side of the inbound queue; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct InboundSender {
    tx: mpsc::UnboundedSender<Inbound>,
    pub gauge: Arc<Gauge>,
}

impl InboundSender {
    /// Queues a control item or stream entries (never dropped: their producers wait instead,
    /// see [`InboundSender::is_full`]).
    pub fn send(&self, item: Inbound) -> Result<(), mpsc::error::SendError<Inbound>> {
        self.gauge.added();
        self.tx.send(item).inspect_err(|_| self.gauge.taken(1))
    }

    /// Queues a live payload, or drops and counts it when the queue is full.
    pub fn send_live(&self, channel: String, payload: Vec<u8>) {
        if self.is_full() || self.gauge.bytes.load(Ordering::Relaxed) >= INBOUND_BYTES {
            self.gauge.drop_one();
            return;
        }
        let n = payload.len();
        self.gauge.bytes.fetch_add(n, Ordering::Relaxed);
        if self.send(Inbound::Live { channel, payload }).is_err() {
            self.gauge.bytes_taken(n);
        }
    }

    /// The inbound task is this far behind: stream readers wait before reading more.
    pub fn is_full(&self) -> bool {
        self.gauge.waiting() >= INBOUND_LIMIT
    }
}

/// The inbound queue.
pub(crate) fn inbound() -> (InboundSender, mpsc::UnboundedReceiver<Inbound>, Arc<Gauge>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let gauge = Arc::new(Gauge::default());
    (
        InboundSender {
            tx,
            gauge: gauge.clone(),
        },
        rx,
        gauge,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_payloads_beyond_the_byte_limit_are_dropped_and_counted() {
        let (tx, _rx, gauge) = inbound();
        let big = 64 * 1024;
        for _ in 0..INBOUND_BYTES / big + 3 {
            tx.send_live("bob".into(), vec![b'x'; big]);
        }
        assert_eq!(gauge.waiting(), INBOUND_BYTES / big);
        assert_eq!(gauge.take_dropped(), 3);
    }

    #[test]
    fn live_payloads_beyond_the_limit_are_dropped_and_counted() {
        let (tx, mut rx, gauge) = inbound();
        for _ in 0..INBOUND_LIMIT + 5 {
            tx.send_live("bob".into(), b"x".to_vec());
        }
        assert_eq!(gauge.waiting(), INBOUND_LIMIT);
        assert_eq!(gauge.take_dropped(), 5);
        assert_eq!(gauge.take_dropped(), 0, "counted once");
        // Control items still go through.
        tx.send(Inbound::CatchUp { done: true }).unwrap();
        let mut buf = Vec::new();
        let n = rx.try_recv().map(|i| buf.push(i)).is_ok() as usize;
        gauge.taken(n);
        assert_eq!(gauge.waiting(), INBOUND_LIMIT);
    }
}
