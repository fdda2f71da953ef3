//! Rooms and presence under load.
//!
//! `room`: N members in one room (each a full Redchat session), one sender at R msg/s;
//! latency from the sender's `SentAt` to each member's event, against bare redis-rs
//! SUBSCRIBE on one channel with the same fan-out, in the same run.
//!
//! `presence`: N users' presence traffic as the presence task sends it (a beat every 5 s,
//! a look at the directory every 10 s), from a pool of connections; the server's command
//! rate and CPU share from `INFO`, before and after.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use redchat_core::{
    ConnectionSettings, Delivery, Draft, Event, RoomName, Session, SessionConfig, Username,
};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::delivery::{now_us, pace, uuid_fragment};

#[derive(Args, Clone)]
pub struct RoomArgs {
    /// Members of the room (each its own session, like a real client).
    #[arg(long, default_value_t = 200)]
    members: usize,
    /// Messages per second sent to the room.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Body bytes.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Live-only delivery (PUBLISH only) instead of durable (stream + PUBLISH).
    #[arg(long)]
    live_only: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct PresenceArgs {
    /// Simulated online users.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// CPU time this process has used (user + system), in microseconds (Linux).
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks * 10_000 // USER_HZ = 100
}

fn summary(mode: &str, sent: u64, expected: u64, mut lat: Vec<u64>, cpu: u64) -> Value {
    lat.sort_unstable();
    let delivered = lat.len().max(1) as f64;
    json!({
        "mode": mode, "sent": sent, "expected": expected, "received": lat.len(),
        "cpuUsPerDelivery": (cpu as f64 / delivered * 100.0).round() / 100.0,
        "lost": expected.saturating_sub(lat.len() as u64),
        "latencyMs": { "p50": percentile(&lat, 0.5), "p90": percentile(&lat, 0.9),
                       "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0) },
    })
}

fn write(out: &Option<PathBuf>, doc: &Value) -> Result<()> {
    if let Some(path) = out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(doc)?)?;
    }
    Ok(())
}

/// Waits until `got` reaches `want` or nothing arrives for two seconds.
async fn drain(got: &AtomicU64, want: u64) {
    let mut last = got.load(Ordering::Relaxed);
    let mut since = Instant::now();
    while last < want && since.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = got.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

pub async fn room(url: &str, args: &RoomArgs) -> Result<std::process::ExitCode> {
    let settings = ConnectionSettings::parse(url)
        .context("reading --url")?
        .settings;
    let redchat = redchat_room(&settings, args).await?;
    let baseline = baseline_room(&settings, args).await?;
    let doc = json!({
        "benchmark": "room", "members": args.members, "rate": args.rate,
        "seconds": args.duration, "payload": args.payload,
        "delivery": if args.live_only { "liveOnly" } else { "durable" },
        "redchat": redchat, "baseline": baseline,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    write(&args.out, &doc)?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn redchat_room(settings: &ConnectionSettings, args: &RoomArgs) -> Result<Value> {
    let run = uuid_fragment();
    let room = format!("#bench{run}");
    let received = Arc::new(AtomicU64::new(0));
    let mut receivers = JoinSet::new();
    let mut sessions = Vec::new();
    for i in 0..=args.members {
        let user = Username::parse(&format!("r{run}-{i}")).context("bench user")?;
        let mut config = SessionConfig::new(settings.clone(), user);
        config.delivery = if args.live_only {
            Delivery::LiveOnly
        } else {
            Delivery::Durable
        };
        config.share_presence = false;
        let (session, mut events) = Session::connect(config).await.context("member session")?;
        session.join(&room).await.context("join")?;
        if i < args.members {
            let received = received.clone();
            receivers.spawn(async move {
                let mut lat = Vec::new();
                let mut batch = Vec::new();
                while events.recv_many(&mut batch, 512).await > 0 {
                    let now = now_us();
                    for e in batch.drain(..) {
                        if let Event::Chat(m) = e
                            && !m.mine
                            && let Some(sent) = m.sent_at_micros()
                        {
                            lat.push(now.saturating_sub(sent as u64));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            });
        }
        sessions.push(session);
    }
    let sender = sessions.last().cloned().expect("sender");
    let cpu_start = cpu_us();
    let name = RoomName::parse(&room)?;
    let body = "x".repeat(args.payload);
    let (sent, _errors, _) = pace(
        1,
        args.rate,
        Duration::from_secs(args.duration),
        move |_| {
            let sender = sender.clone();
            let draft = Draft::to_room(name.clone(), &body).expect("room draft");
            async move { sender.submit(draft).await.is_ok() }
        },
    )
    .await;
    let expected = sent * args.members as u64;
    drain(&received, expected).await;
    let cpu = cpu_us() - cpu_start;
    for s in &sessions {
        s.shutdown(Duration::from_secs(2)).await;
    }
    let mut lat = Vec::new();
    while let Some(l) = receivers.join_next().await {
        lat.extend(l?);
    }
    Ok(summary("redchat", sent, expected, lat, cpu))
}

async fn baseline_room(settings: &ConnectionSettings, args: &RoomArgs) -> Result<Value> {
    use futures_util::StreamExt;
    let run = uuid_fragment();
    let channel = format!("blroom{run}");
    let client = redis::Client::open(settings.to_url(true)).context("baseline client")?;
    let received = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut receivers = JoinSet::new();
    for _ in 0..args.members {
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .context("baseline subscribe")?;
        pubsub.subscribe(&channel).await?;
        let received = received.clone();
        let mut stop_rx = stop_rx.clone();
        receivers.spawn(async move {
            let mut lat = Vec::new();
            let mut stream = pubsub.into_on_message();
            loop {
                tokio::select! {
                    msg = stream.next() => {
                        let Some(msg) = msg else { break };
                        let now = now_us();
                        if let Some(sent) = msg.get_payload_bytes().get(..20).and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse::<u64>().ok()) {
                            lat.push(now.saturating_sub(sent));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
            lat
        });
    }
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .context("baseline publisher")?;
    let pad = "x".repeat(args.payload + 150);
    let cpu_start = cpu_us();
    let (sent, _, _) = pace(
        1,
        args.rate,
        Duration::from_secs(args.duration),
        move |_| {
            let mut conn = conn.clone();
            let payload = format!("{:020}{pad}", now_us());
            let channel = channel.clone();
            async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<u64>(&mut conn)
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    let expected = sent * args.members as u64;
    drain(&received, expected).await;
    let cpu = cpu_us() - cpu_start;
    let _ = stop_tx.send(true);
    let mut lat = Vec::new();
    while let Some(l) = receivers.join_next().await {
        lat.extend(l?);
    }
    Ok(summary("baseline", sent, expected, lat, cpu))
}

/// `INFO` fields as numbers.
async fn info(conn: &mut redis::aio::MultiplexedConnection) -> Result<(f64, f64)> {
    let text: String = redis::cmd("INFO").arg("all").query_async(conn).await?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        field("total_commands_processed"),
        field("used_cpu_sys") + field("used_cpu_user"),
    ))
}

pub async fn presence(url: &str, args: &PresenceArgs) -> Result<std::process::ExitCode> {
    let settings = ConnectionSettings::parse(url)
        .context("reading --url")?
        .settings;
    let client = redis::Client::open(settings.to_url(true)).context("client")?;
    let mut probe = client.get_multiplexed_async_connection().await?;
    let run = uuid_fragment();
    let ns = format!("pbench{run}:");
    let keys = redchat_core::Keys::new(&redchat_core::Namespace::parse(&ns)?);
    let users: Arc<Vec<Username>> = Arc::new(
        (0..args.users)
            .map(|i| Username::parse(&format!("p{i}")).expect("name"))
            .collect(),
    );
    let pool: Arc<Vec<_>> = Arc::new({
        let mut v = Vec::new();
        for _ in 0..16 {
            v.push(client.get_multiplexed_async_connection().await?);
        }
        v
    });
    let (idle_cmds, idle_cpu) = {
        let (c0, u0) = info(&mut probe).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (c1, u1) = info(&mut probe).await?;
        ((c1 - c0) / 2.0, (u1 - u0) / 2.0)
    };
    let keys = Arc::new(keys);
    let (c0, u0) = info(&mut probe).await?;
    let started = Instant::now();
    // Each user: a beat every 5 s, a directory look every 10 s (as the presence task).
    let (beats, _, _) = pace(
        args.users,
        (args.users as u64) / 5,
        Duration::from_secs(args.duration),
        {
            let (users, pool, keys) = (users.clone(), pool.clone(), keys.clone());
            move |i| {
                let mut conn = pool[i % pool.len()].clone();
                let user = users[i].clone();
                let keys = keys.clone();
                async move {
                    let now = redchat_core::wire::now_ms();
                    let mut pipe = redis::pipe();
                    pipe.cmd("ZADD")
                        .arg(keys.devices(&user))
                        .arg(now + 15_000)
                        .arg("d")
                        .ignore();
                    pipe.cmd("ZREMRANGEBYSCORE")
                        .arg(keys.devices(&user))
                        .arg("-inf")
                        .arg(now)
                        .ignore();
                    pipe.cmd("PEXPIRE")
                        .arg(keys.devices(&user))
                        .arg(15_000)
                        .ignore();
                    pipe.cmd("ZADD")
                        .arg(keys.directory())
                        .arg(now + 15_000)
                        .arg(user.as_str())
                        .ignore();
                    // Every second beat also looks at who is online (the first 200), as the
                    // presence task does.
                    if now % 2 == 0 {
                        pipe.cmd("ZREVRANGEBYSCORE")
                            .arg(keys.directory())
                            .arg("+inf")
                            .arg(now - 7 * 24 * 3_600_000)
                            .arg("WITHSCORES")
                            .arg("LIMIT")
                            .arg(0)
                            .arg(redchat_core::presence::MAX_DIRECTORY)
                            .ignore();
                    }
                    pipe.query_async::<()>(&mut conn).await.is_ok()
                }
            }
        },
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let (c1, u1) = info(&mut probe).await?;
    let cmds = (c1 - c0) / seconds - idle_cmds;
    let cpu = ((u1 - u0) / seconds - idle_cpu) * 100.0;
    let mut cleanup = redis::pipe();
    cleanup.cmd("DEL").arg(keys.directory()).ignore();
    for u in users.iter() {
        cleanup.cmd("DEL").arg(keys.devices(u)).ignore();
    }
    let _ = cleanup.query_async::<()>(&mut probe).await;
    let doc = json!({
        "benchmark": "presence", "users": args.users, "seconds": seconds,
        "beats": beats, "beatsPerSecond": beats as f64 / seconds,
        "serverCommandsPerSecond": cmds, "serverCpuPercentOfOneCore": cpu,
        "idleCommandsPerSecond": idle_cmds,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    write(&args.out, &doc)?;
    Ok(std::process::ExitCode::SUCCESS)
}
