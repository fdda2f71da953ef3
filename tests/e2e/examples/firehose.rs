//! The real window under a firehose (`make bench`): `redchat-bench delivery` publishes to the
//! window's inbox at 1k, 5k and 10k msg/s for 30 s each while the page measures
//! publish→rendered latency, frame times and DOM size; then scrolling back through 100k
//! messages; then the footprint (PSS) of the app and its WebKit processes against the same
//! binary showing an empty page. Before all that, the baseline page (`ui/src/baseline.ts`:
//! the same WebKit and IPC, one row per batch) under the same 1k and 10k msg/s, so Redchat's
//! p99 is reported as a ratio to it. Writes JSON to the path given as the first argument.
//!
//! Environment: REDCHAT_APP (the app, embedded assets), REDCHAT_BENCH (redchat-bench),
//! FIREHOSE_SECONDS (default 30).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redchat_core::testing::RedisServer;
use redchat_e2e::{AppUnderTest, DataHome};
use serde_json::{Value, json};

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// PSS in KiB of `pid` and its descendants (the app, WebKitWebProcess, WebKitNetworkProcess).
fn pss_tree_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            total += rollup
                .lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

/// The app's pid: the process running `app` whose XDG_DATA_HOME is `home`.
fn app_pid(app: &Path, home: &Path) -> Option<u32> {
    let exe = std::fs::canonicalize(app).ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let proc_exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            if proc_exe != exe {
                return None;
            }
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let want = format!("XDG_DATA_HOME={}", home.display());
            environ
                .split(|b| *b == 0)
                .any(|kv| kv == want.as_bytes())
                .then_some(pid)
        })
}

fn settle_pss(pid: u32) -> u64 {
    // Let the page finish loading and settle.
    std::thread::sleep(Duration::from_secs(3));
    pss_tree_kib(pid)
}

/// `redchat-bench delivery` publishing `rate` msg/s of 100 B from 10 users named `peer…` to
/// `to` for `seconds`; returns what it sent.
fn fire(cli: &str, url: &str, rate: u64, seconds: f64, to: &str, peer: &str) -> u64 {
    let bench_out = std::env::temp_dir().join(format!("redchat-firehose-{peer}.json"));
    let status = Command::new(cli)
        .args([
            "--url",
            url,
            "delivery",
            "--users",
            "10",
            "--rate",
            &rate.to_string(),
        ])
        .args([
            "--duration",
            &seconds.to_string(),
            "--payload",
            "100",
            "--to",
            to,
            "--sender",
            peer,
        ])
        .arg("--out")
        .arg(&bench_out)
        .status()
        .expect("redchat-bench");
    assert!(status.success(), "bench publisher failed");
    let bench: Value = serde_json::from_str(&std::fs::read_to_string(&bench_out).unwrap()).unwrap();
    bench["runs"][0]["redchat"]["sent"].as_u64().unwrap()
}

/// Waits (bounded) until the page's probe counted `sent` messages; returns what it counted.
fn wait_received(app: &AppUnderTest, sent: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut received = 0;
    while Instant::now() < deadline {
        received = app
            .execute("return window.__redchatProbe.received", json!([]))
            .as_u64()
            .unwrap_or(0);
        if received >= sent {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    received
}

/// The baseline page (`ui/src/baseline.ts`) under the same firehose: its publish→rendered p99
/// per rate.
fn baseline(cli: &str, url: &str, seconds: f64) -> Vec<Value> {
    let home = DataHome::new("baseline");
    let app = AppUnderTest::start(&home.0);
    app.execute("location.hash = 'baseline'; location.reload()", json!([]));
    app.wait_for(
        "the baseline page",
        "return !!window.__redchatBaseline",
        json!([]),
    );
    app.execute(
        "return window.__redchatBaseline.connect(arguments[0], 'basesink')",
        json!([url]),
    );
    let mut runs = Vec::new();
    for rate in [1000u64, 10000] {
        app.execute("window.__redchatProbe.start()", json!([]));
        let sent = fire(cli, url, rate, seconds, "basesink", &format!("base{rate}"));
        let received = wait_received(&app, sent);
        let stats = app.execute(
            "const p = window.__redchatProbe; p.stop(); return { latencies: p.latencies, frames: p.frames }",
            json!([]),
        );
        let mut lat: Vec<f64> = stats["latencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let mut frames: Vec<f64> = stats["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let run = json!({
            "rate": rate, "sent": sent, "received": received,
            "renderedLatencyMs": { "p50": percentile(&mut lat, 0.5), "p99": percentile(&mut lat, 0.99), "samples": lat.len() },
            "frameMs": { "p50": percentile(&mut frames, 0.5), "p99": percentile(&mut frames, 0.99) },
        });
        println!("baseline page {rate} msg/s: {run}");
        runs.push(run);
    }
    app.close();
    runs
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench/firehose.json".into()),
    );
    let cli = std::env::var("REDCHAT_BENCH").unwrap_or_else(|_| "target/perf/redchat-bench".into());
    let app_path = redchat_e2e::app_binary();
    let seconds: f64 = std::env::var("FIREHOSE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let server = RedisServer::start();
    let url = server.url();

    // Floor: the same binary showing an empty page.
    let blank_home = DataHome::new("blank");
    let floor_kib = {
        let started = Instant::now();
        let app = AppUnderTest::start_with_env(&blank_home.0, &[("REDCHAT_BLANK_WINDOW", "1")]);
        let pid = app_pid(&app_path, &blank_home.0).expect("blank app pid");
        let kib = settle_pss(pid);
        println!(
            "empty window: {:.0} MiB PSS (started in {:?})",
            kib as f64 / 1024.0,
            started.elapsed()
        );
        app.close();
        kib
    };

    // The baseline page under the same load, in the same run.
    let baseline_runs = baseline(&cli, &url, seconds);

    let home = DataHome::new("firehose");
    let launch = Instant::now();
    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "first paint",
        "return document.querySelector('#status') !== null",
        json!([]),
    );
    let first_paint = launch.elapsed();
    let pid = app_pid(&app_path, &home.0).expect("app pid");
    let idle_kib = settle_pss(pid);
    println!(
        "idle: {:.0} MiB PSS; start to first paint {first_paint:?}",
        idle_kib as f64 / 1024.0
    );
    app.connect_as(&url, "sink");

    let mut runs = Vec::new();
    for rate in [1000u64, 5000, 10000] {
        let peer = format!("fire{rate}");
        app.type_and_enter("#compose", &format!("@{peer} go"));
        app.wait_for(
            "conversation open",
            "return document.querySelector('#conversation-title').textContent === arguments[0]",
            json!([format!("@{peer}")]),
        );
        app.execute("window.__redchatProbe.start()", json!([]));
        let sent = fire(&cli, &url, rate, seconds, "sink", &peer);
        let received = wait_received(&app, sent);
        let stats = app.execute(
            "const p = window.__redchatProbe; p.stop(); return { latencies: p.latencies, frames: p.frames, busy: p.busy, sections: p.sections, \
             nodes: document.getElementsByTagName('*').length, view: p.view() }",
            json!([]),
        );
        let mut lat: Vec<f64> = stats["latencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let mut frames: Vec<f64> = stats["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let kib = pss_tree_kib(pid);
        let run = json!({
            "rate": rate, "seconds": seconds, "sent": sent, "received": received, "lost": sent.saturating_sub(received),
            "renderedLatencyMs": { "p50": percentile(&mut lat, 0.5), "p99": percentile(&mut lat, 0.99), "max": percentile(&mut lat, 1.0), "samples": lat.len() },
            "frameMs": { "p50": percentile(&mut frames, 0.5), "p99": percentile(&mut frames, 0.99), "max": percentile(&mut frames, 1.0), "frames": frames.len() },
            "jsBusyMs": stats["busy"], "jsSectionsMs": stats["sections"], "domNodes": stats["nodes"], "view": stats["view"], "pssMiB": kib as f64 / 1024.0,
        });
        println!("{rate} msg/s: {run}");
        runs.push(run);
    }

    // Scroll back through 100k messages of the last conversation, as a user's scrolling does.
    // The window holds the newest 1,000 or so; older ones page in from the local store.
    let target = 100_000u64;
    let scroll_started = Instant::now();
    let mut steps = 0;
    let mut max_nodes = 0;
    let back = loop {
        let v = app.execute(
            "for (let i = 0; i < 100; i++) window.__redchatProbe.scrollTop(); \
             return { view: window.__redchatProbe.view(), nodes: document.getElementsByTagName('*').length }",
            json!([]),
        );
        steps += 100;
        max_nodes = max_nodes.max(v["nodes"].as_u64().unwrap_or(0));
        let start = v["view"]["start"].as_u64().unwrap_or(0);
        let total = v["view"]["total"].as_u64().unwrap_or(0);
        let back = total.saturating_sub(start);
        if back >= target || scroll_started.elapsed() > Duration::from_secs(300) {
            println!(
                "scrolled back {back} messages in {steps} scroll steps, {:?}, max {max_nodes} DOM nodes",
                scroll_started.elapsed()
            );
            break back;
        }
    };
    let scroll = json!({
        "messages": back,
        "seconds": scroll_started.elapsed().as_secs_f64(), "maxDomNodes": max_nodes,
    });
    let after_kib = pss_tree_kib(pid);
    app.close();

    let ratios: Vec<Value> = baseline_runs
        .iter()
        .filter_map(|b| {
            let rate = b["rate"].as_u64()?;
            let ours = runs.iter().find(|r| r["rate"].as_u64() == Some(rate))?;
            let ratio = ours["renderedLatencyMs"]["p99"].as_f64()?
                / b["renderedLatencyMs"]["p99"].as_f64()?;
            println!("{rate} msg/s: rendered p99 {ratio:.2}x the baseline page's");
            Some(json!({ "rate": rate, "renderedP99Ratio": ratio }))
        })
        .collect();
    let doc = json!({
        "ratioToBaselinePage": ratios,
        "footprint": {
            "emptyWindowPssMiB": floor_kib as f64 / 1024.0,
            "idlePssMiB": idle_kib as f64 / 1024.0,
            "afterFirehosePssMiB": after_kib as f64 / 1024.0,
            "startToFirstPaintMs": first_paint.as_secs_f64() * 1000.0,
        },
        "runs": runs,
        "baselinePage": baseline_runs,
        "scrollBack": scroll,
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    println!("wrote {}", out.display());
}
