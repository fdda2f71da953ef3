//! `bench`: the whole delivery path under load, against bare redis-rs on the same server.
//!
//! N simulated users, each with its own connection as real clients have, send DMs in a ring
//! (user i → user i+1) at a target aggregate rate. Redchat mode runs the real core: `Session`
//! per user, JSON encode, PUBLISH, RESP3 push, decode into an event. Baseline mode runs the
//! identical load through redis-rs alone: a RESP2 `PubSub` connection per user to SUBSCRIBE and
//! a multiplexed connection per user to PUBLISH a payload of the same size, no Redchat code.
//! Latency is receive time minus the send time embedded in the message (`SentAt` for Redchat,
//! a timestamp prefix for the baseline), so it covers encode → Redis → decode. Throughput,
//! loss and latency are reported for both, and their ratio, because machines are noisy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use redchat_core::{ConnectionSettings, Delivery, Draft, Event, Session, SessionConfig, Username};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Simulated users (each has its own connection).
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Target aggregate send rate, messages per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Message body size in bytes (the baseline sends payloads as large as Redchat's JSON).
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Run bare redis-rs instead of Redchat.
    #[arg(long)]
    baseline: bool,
    /// Run both modes for users 10/100/1000 × rates 1k/5k/20k × payloads 100 B/4 KiB, plus
    /// redis-benchmark PUBLISH as the raw server limit.
    #[arg(long)]
    matrix: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Send everything to this user instead of in a ring (e.g. a Redchat window under test);
    /// only what was sent is counted here.
    #[arg(long)]
    to: Option<String>,
    /// With --to: the name all simulated users send as (one conversation for the receiver).
    #[arg(long, requires = "to")]
    sender: Option<String>,
    /// Chaos: start a private redis-server (AOF on), SIGKILL it a third of the way into the
    /// run and restart it; report sent / shown / lost / duplicates / recovery per delivery
    /// mode (durable and live-only), for each --chaos-down.
    #[arg(long, conflicts_with_all = ["matrix", "to", "baseline"])]
    chaos: bool,
    /// Seconds the server stays down in --chaos runs (repeatable).
    #[arg(long, default_values_t = [1.0, 10.0])]
    chaos_down: Vec<f64>,
    /// With --chaos: instead of restarts, run the ring behind Sentinel (a master, a replica,
    /// three sentinels) with the master SIGKILLed, beside the sentinels' own failover time.
    #[arg(long, requires = "chaos")]
    chaos_failover: bool,
    /// With --chaos: instead of restarts, run the ring on a 3-primary, 3-replica Redis
    /// Cluster with the primary of the first user's inbox SIGKILLed.
    #[arg(long, requires = "chaos", conflicts_with = "chaos_failover")]
    chaos_cluster: bool,
    /// With --chaos: repeat every fault this many times (medians in docs/benchmarks.md).
    #[arg(long, default_value_t = 1, requires = "chaos")]
    chaos_runs: usize,
}

/// One run's figures.
#[derive(Debug, Clone, Default)]
struct Outcome {
    mode: &'static str,
    users: usize,
    rate: u64,
    payload: usize,
    wire_bytes: usize,
    sent: u64,
    received: u64,
    send_errors: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Outcome {
    fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Messages per second delivered (sent, for firehose runs whose receiver is elsewhere).
    fn throughput(&self) -> f64 {
        let count = if self.mode == "firehose" {
            self.sent
        } else {
            self.received
        };
        count as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }

    fn to_json(&self) -> Value {
        json!({
            "mode": self.mode, "users": self.users, "rate": self.rate, "payload": self.payload,
            "wireBytes": self.wire_bytes, "sent": self.sent, "received": self.received,
            "lost": self.lost(), "sendErrors": self.send_errors, "seconds": self.seconds,
            "throughput": self.throughput(),
            "latencyMs": { "p50": self.percentile(0.5), "p90": self.percentile(0.9),
                           "p99": self.percentile(0.99), "max": self.percentile(1.0) },
        })
    }
}

pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub async fn run(url: &str, bench: &BenchArgs) -> Result<std::process::ExitCode> {
    let settings = ConnectionSettings::parse(url)
        .context("reading --url")?
        .settings;
    let duration = Duration::from_secs_f64(bench.duration);
    let mut outcomes = Vec::new();
    let mut raw_limit = None;
    if bench.chaos {
        return chaos(bench, duration).await;
    }
    if bench.matrix {
        raw_limit = redis_benchmark(&settings);
        println!("{}", header());
        for users in [10, 100, 1000] {
            for rate in [1000, 5000, 20000] {
                for payload in [100, 4096] {
                    let redchat = redchat_run(&settings, users, rate, duration, payload).await?;
                    println!("{}", row(&redchat));
                    let baseline = baseline_run(
                        &settings,
                        users,
                        rate,
                        duration,
                        payload,
                        redchat.wire_bytes,
                    )
                    .await?;
                    println!("{}", row(&baseline));
                    println!("{}", ratio_row(&redchat, &baseline));
                    outcomes.push((redchat, Some(baseline)));
                }
            }
        }
    } else if let Some(to) = &bench.to {
        let to = Username::parse(to).context("reading --to")?;
        let sender = bench
            .sender
            .as_deref()
            .map(Username::parse)
            .transpose()
            .context("reading --sender")?;
        let outcome = firehose_run(
            &settings,
            bench.users,
            bench.rate,
            duration,
            bench.payload,
            to,
            sender,
        )
        .await?;
        println!("{}\n{}", header(), row(&outcome));
        outcomes.push((outcome, None));
    } else {
        let wire = wire_size(bench.payload);
        let outcome = if bench.baseline {
            baseline_run(
                &settings,
                bench.users,
                bench.rate,
                duration,
                bench.payload,
                wire,
            )
            .await?
        } else {
            redchat_run(&settings, bench.users, bench.rate, duration, bench.payload).await?
        };
        println!("{}\n{}", header(), row(&outcome));
        outcomes.push((outcome, None));
    }
    if let Some(path) = &bench.out {
        let runs: Vec<Value> = outcomes
            .iter()
            .map(|(r, b)| {
                let mut v = json!({ "redchat": r.to_json() });
                if let Some(b) = b {
                    v["baseline"] = b.to_json();
                    v["ratio"] = json!({
                        "throughput": r.throughput() / b.throughput(),
                        "p99": r.percentile(0.99) / b.percentile(0.99),
                    });
                }
                v
            })
            .collect();
        let doc = json!({
            "machine": machine(),
            "durationSeconds": bench.duration,
            "redisBenchmarkPublishPerSecond": raw_limit,
            "runs": runs,
        });
        write_json(path, &doc)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn chaos(bench: &BenchArgs, duration: Duration) -> Result<std::process::ExitCode> {
    println!("{}", crate::chaos::ChaosOutcome::header());
    let mut runs = Vec::new();
    let faults: Vec<crate::chaos::Fault> = if bench.chaos_failover {
        vec![crate::chaos::Fault::Failover]
    } else if bench.chaos_cluster {
        vec![crate::chaos::Fault::ClusterFailover]
    } else {
        bench
            .chaos_down
            .iter()
            .map(|&down| crate::chaos::Fault::Restart(Duration::from_secs_f64(down)))
            .collect()
    };
    for fault in faults {
        for _ in 0..bench.chaos_runs.max(1) {
            for delivery in [Delivery::Durable, Delivery::LiveOnly] {
                let outcome = crate::chaos::chaos_run(
                    delivery,
                    bench.users,
                    bench.rate,
                    duration,
                    fault,
                    bench.payload,
                )
                .await?;
                println!("{}", outcome.row());
                runs.push(outcome.to_json());
            }
        }
    }
    if let Some(path) = &bench.out {
        let doc = json!({ "machine": machine(), "durationSeconds": bench.duration, "runs": runs });
        write_json(path, &doc)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes a results document (creating its folder) and says where.
fn write_json(path: &std::path::Path, doc: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(path, serde_json::to_string_pretty(doc)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn header() -> String {
    format!(
        "{:<9} {:>5} {:>6} {:>7} {:>8} {:>8} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "mode",
        "users",
        "rate",
        "payload",
        "sent",
        "received",
        "lost",
        "msg/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms"
    )
}

fn row(o: &Outcome) -> String {
    format!(
        "{:<9} {:>5} {:>6} {:>7} {:>8} {:>8} {:>6} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        o.mode,
        o.users,
        o.rate,
        o.payload,
        o.sent,
        o.received,
        o.lost(),
        o.throughput(),
        o.percentile(0.5),
        o.percentile(0.9),
        o.percentile(0.99),
        o.percentile(1.0)
    )
}

fn ratio_row(r: &Outcome, b: &Outcome) -> String {
    format!(
        "{:<9} throughput {:.2}× baseline, p99 {:.2}× baseline",
        "ratio",
        r.throughput() / b.throughput(),
        r.percentile(0.99) / b.percentile(0.99)
    )
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    });
    json!({ "cpus": cpus, "cpu": model, "os": std::env::consts::OS })
}

/// Bytes Redchat puts on the wire for a body of `payload` bytes.
fn wire_size(payload: usize) -> usize {
    let body = "x".repeat(payload);
    redchat_core::wire::encode(
        "bench-u0000",
        "bench-u0001",
        "bench-u0001",
        &format!("@bench-u0001 {body}"),
    )
    .map(|(_, bytes)| bytes.len())
    .unwrap_or(payload)
}

/// Sends for `duration` at `rate` spread over `senders` tasks; `send(i)` sends user i's next
/// message and says whether it went out.
pub(crate) async fn pace<F, Fut>(
    users: usize,
    rate: u64,
    duration: Duration,
    send: F,
) -> (u64, u64, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let send = Arc::new(send);
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(users as f64 / rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + duration;
    let mut tasks = JoinSet::new();
    for i in 0..users {
        let (send, sent, errors) = (send.clone(), sent.clone(), errors.clone());
        // Stagger the users over one period so the aggregate rate is smooth.
        let first = start + period.mul_f64(i as f64 / users as f64);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval_at(first, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                let at = tick.tick().await;
                if at >= end {
                    break;
                }
                if send(i).await {
                    sent.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    // Every message was sent within [start, start + duration): rate over that window.
    let seconds = duration.as_secs_f64();
    (
        sent.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        seconds,
    )
}

/// Waits until `received` reaches `sent` or nothing arrives for a second.
async fn drain(received: &AtomicU64, sent: u64) {
    let mut last = received.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while received.load(Ordering::Relaxed) < sent && quiet_since.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = received.load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

/// Sends to one external recipient; counts only what was sent.
async fn firehose_run(
    settings: &ConnectionSettings,
    users: usize,
    rate: u64,
    duration: Duration,
    payload: usize,
    to: Username,
    sender: Option<Username>,
) -> Result<Outcome> {
    let run = uuid_fragment();
    let mut sessions = Vec::with_capacity(users);
    for i in 0..users {
        let name = match &sender {
            Some(s) => s.clone(),
            None => Username::parse(&format!("f{run}-u{i}")).expect("valid name"),
        };
        let mut config = SessionConfig::new(settings.clone(), name);
        // The delivery path is measured, not presence (see the presence benchmark).
        config.share_presence = false;
        config.heartbeat = Duration::from_secs(5);
        // Live pub/sub, as the window firehose measures rendering, not storage.
        config.delivery = Delivery::LiveOnly;
        let (session, events) = Session::connect(config)
            .await
            .context("connecting a bench user")?;
        // Nobody reads these events: drop them as they come so memory stays flat.
        tokio::spawn(async move {
            let mut events = events;
            let mut sink = Vec::new();
            while events.recv_many(&mut sink, 512).await > 0 {
                sink.clear();
            }
        });
        sessions.push(session);
    }
    let sessions = Arc::new(sessions);
    let draft = Draft::new(to, &"x".repeat(payload)).context("bench message")?;
    let senders = sessions.clone();
    let (sent, send_errors, seconds) = pace(users, rate, duration, move |i| {
        let (session, draft) = (senders[i].clone(), draft.clone());
        async move { session.send(draft).await.is_ok() }
    })
    .await;
    for s in sessions.iter() {
        s.shutdown(Duration::from_secs(2)).await;
    }
    Ok(Outcome {
        mode: "firehose",
        users,
        rate,
        payload,
        wire_bytes: wire_size(payload),
        sent,
        send_errors,
        seconds,
        ..Outcome::default()
    })
}

async fn redchat_run(
    settings: &ConnectionSettings,
    users: usize,
    rate: u64,
    duration: Duration,
    payload: usize,
) -> Result<Outcome> {
    let run = uuid_fragment();
    let names: Vec<Username> = (0..users)
        .map(|i| Username::parse(&format!("b{run}-u{i}")).expect("valid name"))
        .collect();
    let limit = Arc::new(Semaphore::new(32));
    let mut connecting = JoinSet::new();
    for (i, user) in names.iter().cloned().enumerate() {
        let (settings, limit) = (settings.clone(), limit.clone());
        connecting.spawn(async move {
            let _permit = limit.acquire().await;
            let mut config = SessionConfig::new(settings, user);
            config.share_presence = false;
            config.heartbeat = Duration::from_secs(5);
            // Live-only: the same work as the bare redis-rs baseline (PUBLISH, push).
            config.delivery = Delivery::LiveOnly;
            Session::connect(config).await.map(|s| (i, s))
        });
    }
    let mut sessions: BTreeMap<usize, (Session, redchat_core::Events)> = BTreeMap::new();
    while let Some(joined) = connecting.join_next().await {
        let (i, s) = joined?.context("connecting a bench user")?;
        sessions.insert(i, s);
    }
    let received = Arc::new(AtomicU64::new(0));
    let mut receivers = JoinSet::new();
    let mut handles = Vec::with_capacity(users);
    for (_, (session, mut events)) in sessions {
        handles.push(session);
        let received = received.clone();
        receivers.spawn(async move {
            let mut lat = Vec::new();
            let mut batch = Vec::new();
            while events.recv_many(&mut batch, 512).await > 0 {
                let now = now_us();
                for event in batch.drain(..) {
                    if let Event::Chat(m) = event
                        && let Some(sent_us) = m.sent_at_micros()
                    {
                        lat.push(now.saturating_sub(sent_us as u64));
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        });
    }
    let handles = Arc::new(handles);
    let body = "x".repeat(payload);
    let drafts: Arc<Vec<Draft>> = Arc::new(
        (0..users)
            .map(|i| Draft::new(names[(i + 1) % users].clone(), &body).expect("bench draft"))
            .collect(),
    );
    let senders = handles.clone();
    let (sent, send_errors, seconds) = pace(users, rate, duration, move |i| {
        let (session, draft) = (senders[i].clone(), drafts[i].clone());
        async move { session.send(draft).await.is_ok() }
    })
    .await;
    drain(&received, sent).await;
    for s in handles.iter() {
        s.shutdown(Duration::from_secs(2)).await;
    }
    let mut latencies = Vec::new();
    while let Some(lat) = receivers.join_next().await {
        latencies.extend(lat?);
    }
    latencies.sort_unstable();
    Ok(Outcome {
        mode: "redchat",
        users,
        rate,
        payload,
        wire_bytes: wire_size(payload),
        sent,
        received: received.load(Ordering::Relaxed),
        send_errors,
        seconds,
        latencies_us: latencies,
    })
}

async fn baseline_run(
    settings: &ConnectionSettings,
    users: usize,
    rate: u64,
    duration: Duration,
    payload: usize,
    wire_bytes: usize,
) -> Result<Outcome> {
    use futures_util::StreamExt;
    let run = uuid_fragment();
    let mut plain = settings.clone();
    plain.password = settings.password.clone();
    let client = redis::Client::open(plain.to_url(true)).context("baseline client")?;
    let channels: Vec<String> = (0..users).map(|i| format!("bl{run}-u{i}")).collect();
    let received = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut receivers = JoinSet::new();
    let mut publishers = Vec::with_capacity(users);
    for channel in &channels {
        let mut stop_rx = stop_rx.clone();
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .context("baseline subscribe connection")?;
        pubsub.subscribe(channel).await?;
        publishers.push(
            client
                .get_multiplexed_async_connection()
                .await
                .context("baseline publish connection")?,
        );
        let received = received.clone();
        receivers.spawn(async move {
            let mut lat = Vec::new();
            let mut stream = pubsub.into_on_message();
            loop {
                tokio::select! {
                    msg = stream.next() => {
                        let Some(msg) = msg else { break };
                        let now = now_us();
                        let bytes = msg.get_payload_bytes();
                        if let Some(sent) = bytes.get(..20).and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse::<u64>().ok()) {
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
    let publishers = Arc::new(publishers);
    let targets: Arc<Vec<String>> = Arc::new(
        (0..users)
            .map(|i| channels[(i + 1) % users].clone())
            .collect(),
    );
    let pad = "x".repeat(wire_bytes.saturating_sub(20));
    let (sent, send_errors, seconds) = pace(users, rate, duration, move |i| {
        let mut conn = publishers[i].clone();
        let channel = targets[i].clone();
        let payload = format!("{:020}{pad}", now_us());
        async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<u64>(&mut conn)
                .await
                .is_ok()
        }
    })
    .await;
    drain(&received, sent).await;
    let _ = stop_tx.send(true);
    let mut latencies = Vec::new();
    while let Some(lat) = receivers.join_next().await {
        latencies.extend(lat?);
    }
    latencies.sort_unstable();
    Ok(Outcome {
        mode: "baseline",
        users,
        rate,
        payload,
        wire_bytes,
        sent,
        received: received.load(Ordering::Relaxed),
        send_errors,
        seconds,
        latencies_us: latencies,
    })
}

pub(crate) fn uuid_fragment() -> String {
    format!("{:08x}", now_us() as u32)
}

/// `redis-benchmark` PUBLISH requests per second on the same server, if the tool is there.
fn redis_benchmark(settings: &ConnectionSettings) -> Option<f64> {
    let mut cmd = std::process::Command::new("redis-benchmark");
    cmd.args([
        "-h",
        &settings.host,
        "-p",
        &settings.port.to_string(),
        "-n",
        "200000",
        "-c",
        "50",
        "-q",
    ]);
    if let Some(p) = &settings.password {
        cmd.env("REDISCLI_AUTH", p.expose());
    }
    cmd.args(["PUBLISH", "bench-raw", &"x".repeat(100)]);
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "PUBLISH bench-raw xxx: 123456.79 requests per second, p50=0.199 msec"
    let rps = text
        .rsplit(':')
        .next()
        .or(Some(&text))?
        .split_whitespace()
        .find_map(|w| w.parse::<f64>().ok());
    if let Some(rps) = rps {
        println!("redis-benchmark PUBLISH (100 B, 50 clients): {rps:.0} requests/s");
    }
    rps
}
