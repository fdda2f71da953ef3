//! The local message store: what storing costs the receive path, and how fast search answers
//! on a big store; each beside a bare-SQLite baseline measured in the same run.
//!
//! - store: `Archive::record` (what the session's emitter pays per message, on the async
//!   side) and the writer thread's time per message (batched transactions with the FTS5
//!   index), beside plain batched INSERTs of the same rows into a table without indexes.
//! - search: two-word queries (words drawn like real text: a few common, many rare) on a
//!   store of `--messages` messages, beside the bare FTS5 MATCH (no join, no filters).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use redchat_core::archive::Query;
use redchat_core::{Archive, ChatMessage, ConversationId, Trust};
use serde_json::json;

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Messages in the store searched.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Messages timed for the storing cost.
    #[arg(long, default_value_t = 200_000)]
    store: usize,
    /// Queries per round.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Rounds (medians are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the stores go (a temporary directory by default).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Reuse the search store in --dir when it already holds --messages messages.
    #[arg(long, requires = "dir")]
    reuse: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// xorshift64*: the same messages every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "da", "po", "li", "gra", "ste", "or",
    "an", "be", "ci", "du", "fe", "go", "hu", "ji", "ze",
];

fn vocabulary(n: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed);
    let mut words = std::collections::BTreeSet::new();
    while words.len() < n {
        let len = 2 + (rng.next() % 3) as usize;
        let w: String = (0..len)
            .map(|_| SYLLABLES[(rng.next() % SYLLABLES.len() as u64) as usize])
            .collect();
        words.insert(w);
    }
    words.into_iter().collect()
}

/// A word index skewed like text: u³ puts most draws among the first words.
fn draw(rng: &mut Rng, n: usize) -> usize {
    ((rng.unit().powi(3)) * n as f64) as usize % n
}

fn messages(count: usize, words: &[String], seed: u64) -> Vec<ChatMessage> {
    let mut rng = Rng(seed);
    let start = 1_700_000_000_000i64;
    (0..count)
        .map(|i| {
            let n = 6 + (rng.next() % 14) as usize;
            let content: Vec<&str> = (0..n)
                .map(|_| words[draw(&mut rng, words.len())].as_str())
                .collect();
            let peer = format!("user{}", rng.next() % 200);
            let at = start + i as i64 * 50;
            let time = chrono::DateTime::from_timestamp_millis(at)
                .unwrap()
                .to_rfc3339();
            ChatMessage {
                id: format!("{peer}@{seed:x}-{i}"),
                conversation: if i % 3 == 0 {
                    ConversationId::parse("#team").unwrap()
                } else {
                    ConversationId::parse(&format!("@{peer}")).unwrap()
                },
                sender: peer.clone(),
                to: Some("me".into()),
                room: None,
                content: content.join(" "),
                sent_at: Some(time.clone()),
                received_at: time,
                at,
                channel: "me".into(),
                legacy: false,
                durable: true,
                mine: false,
                mentions_me: false,
                trust: Trust::Signed,
                request: false,
                sender_issue: None,
                lookalike: None,
                signature: None,
            }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Storing `batch` through the archive: (µs per message in `record`, µs per message until written).
fn store_once(dir: &std::path::Path, batch: &[ChatMessage]) -> (f64, f64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let archive = Archive::open(dir);
    let started = Instant::now();
    let mut recording = Duration::ZERO;
    // Bursts well within the writer's queue, so nothing is left out and the total is the
    // writer's own time.
    for chunk in batch.chunks(32_000) {
        let t = Instant::now();
        for m in chunk {
            archive.record(m);
        }
        recording += t.elapsed();
        assert!(archive.flush(Duration::from_secs(600)));
    }
    assert!(
        !archive
            .take_notices()
            .iter()
            .any(|n| n.contains("fell behind")),
        "nothing left out"
    );
    let total = started.elapsed();
    let n = batch.len() as f64;
    (
        recording.as_secs_f64() * 1e6 / n,
        total.as_secs_f64() * 1e6 / n,
    )
}

/// The baseline: the same rows as plain batched INSERTs, no indexes, no FTS.
fn bare_once(dir: &std::path::Path, batch: &[ChatMessage]) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut conn = rusqlite::Connection::open(dir.join("bare.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE m(id TEXT, conversation TEXT, sender TEXT, content TEXT, at INTEGER)",
    )
    .unwrap();
    let started = Instant::now();
    for chunk in batch.chunks(2_048) {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO m VALUES (?1, ?2, ?3, ?4, ?5)")
                .unwrap();
            for m in chunk {
                stmt.execute(rusqlite::params![
                    m.id,
                    m.conversation.to_string(),
                    m.sender,
                    m.content,
                    m.at
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / batch.len() as f64
}

pub fn run(args: &StoreArgs) -> Result<ExitCode> {
    let base = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("redchat-bench-store-{}", std::process::id()))
    });
    std::fs::create_dir_all(&base).context("creating the bench directory")?;
    let words = vocabulary(20_000);

    // 1. Storing.
    let batch = messages(if args.reuse { 1 } else { args.store }, &words, 1);
    let (mut record, mut written, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let (r, w) = store_once(&base.join("store"), &batch);
        record.push(r);
        written.push(w);
        bare.push(bare_once(&base.join("bare"), &batch));
    }
    drop(batch);
    let (record, written, bare) = (median(record), median(written), median(bare));
    println!(
        "store {} messages: record() {record:.2} µs/msg on the receive path; written {written:.2} µs/msg (writer thread, FTS5 + indexes); bare INSERT {bare:.2} µs/msg (median of {})",
        args.store, args.runs
    );

    // 2. Search on a big store.
    let dir = base.join("search");
    let reuse = args.reuse
        && Archive::open_read_only(&dir).and_then(|a| a.count()).ok() == Some(args.messages as u64);
    if !reuse {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir)?;
    let archive = Archive::open(&dir);
    let fill = Instant::now();
    let mut seed = 2;
    let mut left = if reuse { 0 } else { args.messages };
    while left > 0 {
        let n = left.min(50_000);
        for m in &messages(n, &words, seed) {
            archive.record(m);
        }
        assert!(archive.flush(Duration::from_secs(600)));
        left -= n;
        seed += 1;
    }
    let fill = fill.elapsed();
    let size = std::fs::metadata(dir.join(redchat_core::archive::FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "filled {} messages in {:.1} s ({:.1} µs/msg), {:.0} MiB",
        archive.count()?,
        fill.as_secs_f64(),
        fill.as_secs_f64() * 1e6 / args.messages as f64,
        size as f64 / (1 << 20) as f64
    );
    let utc = chrono::FixedOffset::east_opt(0).unwrap();
    let fts = rusqlite::Connection::open(dir.join(redchat_core::archive::FILE))?;
    let (mut p50s, mut p99s, mut bare99, mut scoped99, mut hits) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0usize);
    for run in 0..args.runs {
        let mut rng = Rng(0xfeed + run as u64);
        let (mut ours, mut base_ms, mut scoped) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..args.queries {
            let a = &words[draw(&mut rng, words.len())];
            let b = &words[draw(&mut rng, words.len())];
            let text = format!("{a} {b}");
            let q = Query::parse(&text, utc)?;
            let t = Instant::now();
            let found = archive.search(&q, 50)?;
            ours.push(t.elapsed().as_secs_f64() * 1e3);
            hits += found.hits.len();
            let mut scoped_q = q.clone();
            scoped_q.conversation = Some(ConversationId::parse("#team").unwrap());
            let t = Instant::now();
            archive.search(&scoped_q, 50)?;
            scoped.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let mut stmt = fts.prepare_cached(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT 50",
            )?;
            let rows = stmt.query_map([format!("\"{a}\" AND \"{b}\"*")], |r| r.get::<_, i64>(0))?;
            std::hint::black_box(rows.count());
            base_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        p50s.push(percentile(&mut ours.clone(), 0.5));
        p99s.push(percentile(&mut ours, 0.99));
        scoped99.push(percentile(&mut scoped, 0.99));
        bare99.push(percentile(&mut base_ms, 0.99));
    }
    let (p50, p99, scoped99, bare99) =
        (median(p50s), median(p99s), median(scoped99), median(bare99));
    println!(
        "search {} messages, two-word queries: p50 {p50:.2} ms, p99 {p99:.2} ms; in:#team p99 {scoped99:.2} ms; bare FTS5 MATCH p99 {bare99:.2} ms (median of {} rounds of {} queries; {:.1} hits per query)",
        args.messages,
        args.runs,
        args.queries,
        hits as f64 / (args.runs * args.queries) as f64
    );
    let result = json!({
        "store": { "messages": args.store, "recordUsPerMessage": record, "writtenUsPerMessage": written, "bareInsertUsPerMessage": bare },
        "search": { "messages": args.messages, "fillSeconds": fill.as_secs_f64(), "fileMiB": size as f64 / (1 << 20) as f64,
                    "p50Ms": p50, "p99Ms": p99, "scopedP99Ms": scoped99, "bareFtsP99Ms": bare99, "queries": args.queries, "runs": args.runs },
    });
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&result)? + "\n")?;
    }
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    Ok(ExitCode::SUCCESS)
}
