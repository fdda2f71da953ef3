//! Shutdown as a type (the shape of mini-redis's `shutdown.rs`): every task holds a
//! [`Shutdown`] and selects on [`Shutdown::recv`]; the session is finished when every task
//! has dropped its [`Done`] guard.

use tokio::sync::{mpsc, watch};

/// Tells a task to stop. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown {
    signal: watch::Receiver<bool>,
}

impl Shutdown {
    /// A pair: the trigger (send `true` to stop) and the first listener.
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown { signal: rx })
    }

    /// Stop was requested.
    pub fn is_shutdown(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves once stop is requested (at once if it already was).
    pub async fn recv(&mut self) {
        let _ = self.signal.wait_for(|s| *s).await;
    }
}

/// Held by a task while it runs; dropping it says "this task is done".
#[derive(Debug, Clone)]
pub(crate) struct Done(#[allow(dead_code)] mpsc::Sender<()>);

/// Waits until every [`Done`] was dropped.
#[derive(Debug)]
pub(crate) struct AllDone(mpsc::Receiver<()>);

pub(crate) fn completion() -> (Done, AllDone) {
    let (tx, rx) = mpsc::channel(1);
    (Done(tx), AllDone(rx))
}

impl AllDone {
    pub async fn wait(&mut self) {
        let _ = self.0.recv().await;
    }
}
