//! `bench --chaos`: the ring benchmark while the server is killed (SIGKILL) and restarted.
//!
//! The benchmark starts its own redis-server (append-only file synced on every write, so
//! the streams survive the kill) on a free port, runs N users sending in a ring through the
//! real core with the outbox (`Session::submit`), kills the server a third of the way in,
//! restarts it after `--chaos-down` seconds on the same port, and keeps sending. Per delivery
//! mode it reports messages sent, shown (distinct), lost, duplicates hidden by id, duplicates
//! shown (must be 0), the time from the server answering again to every session being
//! connected again, and to the last message sent before that (the outage backlog) being shown.
//!
//! `--chaos-failover` runs the same ring behind Sentinel ([`Fault::Failover`]): a master, a
//! replica and three sentinels (1 s down-after), the master SIGKILLed a third of the way in.
//! The baseline in the same run is the sentinels' own failover: from the kill until every
//! sentinel names the promoted replica and it says it is a master. Redchat's figures are what
//! it adds on top: until every session is connected to the new master, and until each
//! recipient receives again (the first message sent after the kill shown, the last such
//! recipient).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use redchat_core::testing::{ClusterGroup, RedisServer, SentinelGroup};
use redchat_core::{
    ConnectionSettings, Delivery, Draft, Event, Session, SessionConfig, State, Username,
};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::delivery::{pace, uuid_fragment};

/// What is done to the server a third of the way in.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL the one server, restart it after this long.
    Restart(Duration),
    /// SIGKILL the master behind Sentinel; the sentinels promote its replica.
    Failover,
    /// SIGKILL the cluster primary serving the first user's inbox; its replica is promoted.
    ClusterFailover,
}

/// The servers a run kills.
enum Deployment {
    Plain(RedisServer),
    Sentinel(SentinelGroup),
    Cluster(ClusterGroup),
}

/// One chaos run's figures.
#[derive(Debug, Clone)]
pub struct ChaosOutcome {
    delivery: Delivery,
    users: usize,
    rate: u64,
    fault: Fault,
    /// From the kill until the server answers again (restart) or the sentinels have
    /// promoted the replica (failover): the baseline Redchat cannot beat.
    fault_ms: f64,
    /// From the kill until the last recipient showed a message sent after the kill.
    receiving_again_ms: f64,
    sent: u64,
    shown: u64,
    duplicates_shown: u64,
    duplicates_hidden: u64,
    reconnect_ms: Vec<f64>,
    /// From the server answering again until the last message sent before that was shown.
    backlog_ms: f64,
}

impl ChaosOutcome {
    fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.shown)
    }

    fn fault_name(&self) -> String {
        match self.fault {
            Fault::Restart(down) => format!("restart {:.0}s", down.as_secs_f64()),
            Fault::Failover => "failover".into(),
            Fault::ClusterFailover => "cluster".into(),
        }
    }

    fn max_reconnect_ms(&self) -> f64 {
        self.reconnect_ms.iter().copied().fold(f64::NAN, f64::max)
    }

    fn median_reconnect_ms(&self) -> f64 {
        let mut v = self.reconnect_ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "delivery": self.delivery, "users": self.users, "rate": self.rate,
            "fault": self.fault_name(),
            "downSeconds": match self.fault { Fault::Restart(d) => Some(d.as_secs_f64()), _ => None },
            "faultMs": self.fault_ms, "receivingAgainAfterKillMs": self.receiving_again_ms,
            "sent": self.sent, "shown": self.shown,
            "lost": self.lost(), "duplicatesHidden": self.duplicates_hidden,
            "duplicatesShown": self.duplicates_shown,
            "reconnectMs": { "median": self.median_reconnect_ms(), "max": self.max_reconnect_ms() },
            "backlogShownAfterServerBackMs": self.backlog_ms,
        })
    }

    pub fn header() -> String {
        format!(
            "{:<9} {:>5} {:>6} {:>11} {:>8} {:>7} {:>7} {:>6} {:>8} {:>8} {:>11} {:>11} {:>9}",
            "delivery",
            "users",
            "rate",
            "fault",
            "fault ms",
            "sent",
            "shown",
            "lost",
            "dup hid",
            "dup shw",
            "reconn max",
            "backlog ms",
            "recv ms"
        )
    }

    pub fn row(&self) -> String {
        format!(
            "{:<9} {:>5} {:>6} {:>11} {:>8.0} {:>7} {:>7} {:>6} {:>8} {:>8} {:>11.0} {:>11.0} {:>9.0}",
            match self.delivery {
                Delivery::Durable => "durable",
                Delivery::LiveOnly => "live-only",
            },
            self.users,
            self.rate,
            self.fault_name(),
            self.fault_ms,
            self.sent,
            self.shown,
            self.lost(),
            self.duplicates_hidden,
            self.duplicates_shown,
            self.max_reconnect_ms(),
            self.backlog_ms,
            self.receiving_again_ms
        )
    }
}

/// What each receiving task saw.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    duplicates: u64,
    /// Per message shown: when it was sent (µs since the epoch) and when it was shown.
    shown: Vec<(u64, Instant)>,
    /// When the session reported `Connected` (in order).
    connected: Vec<Instant>,
}

/// Runs the ring with a server kill in the middle.
pub async fn chaos_run(
    delivery: Delivery,
    users: usize,
    rate: u64,
    duration: Duration,
    fault: Fault,
    payload: usize,
) -> Result<ChaosOutcome> {
    let (server, url) = tokio::task::spawn_blocking(move || match fault {
        Fault::Restart(_) => {
            let server = RedisServer::start_persistent();
            let url = server.url();
            (Deployment::Plain(server), url)
        }
        Fault::Failover => {
            let group = SentinelGroup::start();
            let url = group.url();
            (Deployment::Sentinel(group), url)
        }
        Fault::ClusterFailover => {
            let group = ClusterGroup::start();
            let url = group.url();
            (Deployment::Cluster(group), url)
        }
    })
    .await?;
    let settings = ConnectionSettings::parse(&url)?.settings;
    let run = uuid_fragment();
    let names: Vec<Username> = (0..users)
        .map(|i| Username::parse(&format!("c{run}-u{i}")).expect("valid name"))
        .collect();
    let mut sessions = Vec::with_capacity(users);
    let mut receivers = JoinSet::new();
    for name in &names {
        // The app's defaults, apart from the mode: the figures are what users get.
        let mut config = SessionConfig::new(settings.clone(), name.clone());
        // The delivery path is measured, not presence (see the presence benchmark).
        config.share_presence = false;
        config.delivery = delivery;
        let (session, mut events) = Session::connect(config)
            .await
            .context("connecting a chaos user")?;
        sessions.push(session);
        receivers.spawn(async move {
            let mut seen = Seen::default();
            let mut batch = Vec::new();
            while events.recv_many(&mut batch, 512).await > 0 {
                let now = Instant::now();
                for event in batch.drain(..) {
                    match event {
                        Event::Chat(m) => {
                            let sent = m.sent_at_micros().map_or(0, |us| us as u64);
                            if seen.ids.insert(m.id) {
                                seen.shown.push((sent, now));
                            } else {
                                seen.duplicates += 1;
                            }
                        }
                        Event::Status(s) if s.state == State::Connected => {
                            seen.connected.push(now);
                        }
                        _ => {}
                    }
                }
            }
            seen
        });
    }
    let sessions = Arc::new(sessions);
    let body = "x".repeat(payload);
    let drafts: Arc<Vec<Draft>> = Arc::new(
        (0..users)
            .map(|i| Draft::new(names[(i + 1) % users].clone(), &body).expect("chaos draft"))
            .collect(),
    );

    // The fault: SIGKILL a third of the way in; restart `down` later on the same port, or
    // wait for the sentinels to promote the replica.
    let server = Arc::new(Mutex::new(server));
    let ready_at: Arc<Mutex<Option<(Instant, u64)>>> = Arc::new(Mutex::new(None));
    let killed_at = Instant::now() + duration / 3;
    let killed_us = Arc::new(AtomicU64::new(u64::MAX));
    let first = names[0].to_string();
    let fault_task = {
        let (server, ready_at, killed_us) = (server.clone(), ready_at.clone(), killed_us.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(killed_at).await;
            let s = server.clone();
            let first = first.clone();
            killed_us.store(crate::delivery::now_us(), Ordering::Relaxed);
            let old =
                tokio::task::spawn_blocking(move || match &mut *s.lock().expect("server lock") {
                    Deployment::Plain(server) => {
                        server.kill();
                        0
                    }
                    Deployment::Sentinel(group) => {
                        let old = group.master_port();
                        group.master().kill();
                        old
                    }
                    Deployment::Cluster(group) => {
                        let old = group.owner(redchat_core::cluster::slot(
                            format!("redchat:{{u:{first}}}:inbox").as_bytes(),
                        ));
                        group.node(old).kill();
                        old
                    }
                })
                .await?;
            if let Fault::Restart(down) = fault {
                tokio::time::sleep(down).await;
            }
            let s = server.clone();
            tokio::task::spawn_blocking(move || match &mut *s.lock().expect("server lock") {
                Deployment::Plain(server) => server.restart(),
                Deployment::Sentinel(group) => {
                    group.wait_failover(old, Duration::from_secs(60));
                }
                Deployment::Cluster(group) => {
                    let _ = old;
                    group.wait_ok(Duration::from_secs(60));
                }
            })
            .await?;
            *ready_at.lock().expect("ready lock") =
                Some((Instant::now(), crate::delivery::now_us()));
            anyhow::Ok(())
        })
    };
    let senders = sessions.clone();
    let (sent, _errors, _seconds) = pace(users, rate, duration, move |i| {
        let (session, draft) = (senders[i].clone(), drafts[i].clone());
        async move { session.submit(draft).await.is_ok() }
    })
    .await;
    fault_task.await??;
    let killed_us = killed_us.load(Ordering::Relaxed);
    let (ready, ready_us) = ready_at
        .lock()
        .expect("ready lock")
        .context("the server came back")?;

    // Settle: every outbox empty, then nothing new shown for 3 s (the inbox readers block
    // for 5 s at most, so stragglers would show up well within this).
    let settle_limit = Instant::now() + Duration::from_secs(60);
    while sessions.iter().any(|s| s.queued() > 0) && Instant::now() < settle_limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let duplicates_hidden = sessions
        .iter()
        .map(|s| s.stats().duplicates_hidden)
        .sum::<u64>();
    for s in sessions.iter() {
        s.shutdown(Duration::from_secs(2)).await;
    }
    let shown = AtomicU64::new(0);
    let mut duplicates_shown = 0;
    let mut reconnect_ms = Vec::new();
    let mut backlog_shown = ready;
    let mut receiving_again = killed_at;
    while let Some(seen) = receivers.join_next().await {
        let seen = seen?;
        shown.fetch_add(seen.ids.len() as u64, Ordering::Relaxed);
        duplicates_shown += seen.duplicates;
        // A session may connect between the server answering and `ready` being taken: 0 ms.
        if let Some(back) = seen.connected.iter().find(|t| **t > killed_at) {
            reconnect_ms.push(back.saturating_duration_since(ready).as_secs_f64() * 1000.0);
        }
        // Messages sent before the server was back: when was the last of them shown?
        for (sent, at) in &seen.shown {
            if *sent < ready_us {
                backlog_shown = backlog_shown.max(*at);
            }
        }
        // The first message sent after the kill that this recipient showed.
        if let Some(first) = seen
            .shown
            .iter()
            .filter(|(sent, _)| *sent > killed_us)
            .map(|(_, at)| *at)
            .min()
        {
            receiving_again = receiving_again.max(first);
        }
    }
    drop(server);
    Ok(ChaosOutcome {
        delivery,
        users,
        rate,
        fault,
        fault_ms: ready.saturating_duration_since(killed_at).as_secs_f64() * 1000.0,
        receiving_again_ms: receiving_again
            .saturating_duration_since(killed_at)
            .as_secs_f64()
            * 1000.0,
        sent,
        shown: shown.load(Ordering::Relaxed),
        duplicates_shown,
        duplicates_hidden,
        reconnect_ms,
        backlog_ms: backlog_shown.duration_since(ready).as_secs_f64() * 1000.0,
    })
}
