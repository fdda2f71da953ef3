//! The effects task: carries out what the inbound path asks of the world (store and
//! broadcast a read position, pass presence and membership hints on), so the inbound task
//! never waits on Redis.

use std::sync::Arc;

use super::Conn;
use tokio::sync::{mpsc, watch};

use super::config::Setup;
use super::inbound::Effect;
use super::queue::Gauge;
use super::readers;
use super::shutdown::Shutdown;
use crate::presence;
use crate::wire::{self, Signal};

/// Carries out what the inbound path asks: store and broadcast read positions, pass hints.
pub(crate) async fn run(
    setup: Arc<Setup>,
    mut rx: mpsc::UnboundedReceiver<Effect>,
    link: watch::Receiver<Option<Conn>>,
    reader: mpsc::UnboundedSender<readers::Command>,
    presence: mpsc::UnboundedSender<presence::Command>,
    gauge: Arc<Gauge>,
    mut shutdown: Shutdown,
) {
    let mut batch = Vec::new();
    // A flood of hints (anyone can publish "my rooms changed" or member lines) costs at most
    // one resync and one presence refresh per RESYNC_EVERY, and each hinted name once.
    let mut last_resync: Option<tokio::time::Instant> = None;
    let mut resync_due: Option<tokio::time::Instant> = None;
    loop {
        let due = async {
            match resync_due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = rx.recv_many(&mut batch, 1024) => if n == 0 { return },
            _ = due => {
                resync_due = None;
                last_resync = Some(tokio::time::Instant::now());
                let _ = reader.send(readers::Command::Resync);
                let _ = presence.send(presence::Command::Refresh);
                continue;
            }
            _ = shutdown.recv() => return,
        };
        gauge.taken(batch.len());
        let mut hinted = std::collections::HashSet::new();
        let mut refresh = false;
        for effect in batch.drain(..) {
            match effect {
                Effect::PresenceHint { user } => {
                    hinted.insert(user);
                }
                Effect::MembershipHint { ours } => {
                    refresh = true;
                    if ours && resync_due.is_none() {
                        let now = tokio::time::Instant::now();
                        resync_due = Some(match last_resync {
                            Some(last) if now < last + RESYNC_EVERY => last + RESYNC_EVERY,
                            _ => now,
                        });
                    }
                }
                effect @ Effect::SaveRead { .. } => save_read(&setup, &link, effect).await,
            }
        }
        for user in hinted {
            let _ = presence.send(presence::Command::Hint(user));
        }
        if refresh && resync_due.is_none() {
            let _ = presence.send(presence::Command::Refresh);
        }
    }
}

/// At most one resync of the joined list (and presence refresh) per this, however many
/// "rooms changed" signals arrive.
const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Stores and broadcasts a read position.
async fn save_read(setup: &Setup, link: &watch::Receiver<Option<Conn>>, effect: Effect) {
    {
        match effect {
            Effect::SaveRead { conversation, at } => {
                let Some(mut conn) = link.borrow().clone() else {
                    return;
                };
                let keys = &setup.keys;
                let me = &setup.user;
                let text = conversation.to_string();
                let signal = wire::encode_signal(
                    me.as_str(),
                    &Signal::Read {
                        conversation: &text,
                        at,
                    },
                    None,
                );
                let limit = setup.response_timeout;
                // GT: a device that is behind never moves the shared position back (Redis
                // 6.2+; on 6.0 the plain ZADD of the latest mark wins).
                for gt in [true, false] {
                    let mut pipe = redis::pipe();
                    let zadd = pipe.cmd("ZADD").arg(keys.read_positions(me));
                    if gt {
                        zadd.arg("GT");
                    }
                    zadd.arg(at).arg(&text).ignore();
                    pipe.cmd("PUBLISH")
                        .arg(keys.signal_channel(me))
                        .arg(&signal)
                        .ignore();
                    match tokio::time::timeout(limit, pipe.query_async::<()>(&mut conn)).await {
                        Ok(Err(e))
                            if gt && e.to_string().to_ascii_lowercase().contains("syntax") =>
                        {
                            continue;
                        }
                        Ok(Err(e)) => tracing::info!("could not save the read position: {e}"),
                        _ => {}
                    }
                    break;
                }
            }
            Effect::PresenceHint { .. } | Effect::MembershipHint { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::identity::{Identity, KeyStorage};
    use crate::session::config::SessionConfig;
    use crate::settings::ConnectionSettings;
    use crate::username::Username;

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_rooms_signals_costs_one_resync_a_second_and_each_hint_once() {
        let settings = ConnectionSettings::parse("redis://127.0.0.1:1")
            .unwrap()
            .settings;
        let config = SessionConfig::new(settings, Username::parse("bob").unwrap());
        let setup = Arc::new(Setup::new(
            &config,
            Arc::new(Identity::generate()),
            KeyStorage::Memory,
        ));
        let (tx, rx) = mpsc::unbounded_channel();
        let (_link_tx, link) = watch::channel(None);
        let (reader_tx, mut reader_rx) = mpsc::unbounded_channel();
        let (presence_tx, mut presence_rx) = mpsc::unbounded_channel();
        let (_stop, shutdown) = Shutdown::new();
        let gauge = Arc::new(Gauge::default());
        // Anyone can publish "my rooms changed" in our name, and presence hints.
        for i in 0..5_000 {
            gauge.added();
            tx.send(Effect::MembershipHint { ours: true }).unwrap();
            gauge.added();
            tx.send(Effect::PresenceHint {
                user: format!("u{}", i % 10),
            })
            .unwrap();
        }
        let task = tokio::spawn(run(
            setup,
            rx,
            link,
            reader_tx,
            presence_tx,
            gauge.clone(),
            shutdown,
        ));
        // Paused time: this advances the clock, it does not wait.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let mut resyncs = 0;
        while let Ok(cmd) = reader_rx.try_recv() {
            assert!(matches!(cmd, readers::Command::Resync));
            resyncs += 1;
        }
        let mut hints = 0;
        while let Ok(cmd) = presence_rx.try_recv() {
            hints += usize::from(matches!(cmd, presence::Command::Hint(_)));
        }
        assert!(
            (1..=3).contains(&resyncs),
            "5,000 signals became {resyncs} resyncs"
        );
        // Each name once per batch of up to 1,024 effects: 10 names × 10 batches at most.
        assert!(hints <= 110, "5,000 hints about 10 names became {hints}");
        assert_eq!(gauge.waiting(), 0);
        task.abort();
    }
}
