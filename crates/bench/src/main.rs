//! `redchat-bench`: load against Redis, Redchat's path beside bare redis-rs in the same run.
//! Not shipped: the CLI users install carries no benchmark code.
//!
//! # Layout
//! - [`delivery`]: the delivery matrix and single runs (DMs), and the firehose publisher the
//!   real-window benchmark drives.
//! - [`rooms`]: one room with many members vs bare SUBSCRIBE; the server cost of heartbeats.
//! - [`store`]: the local message store: storing cost per message, search on a big store.
//! - [`chaos`]: redis-server SIGKILLed mid-run; what was lost, shown twice, how long recovery took.

mod chaos;
mod delivery;
mod rooms;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "redchat-bench",
    version,
    about = "Redchat benchmarks (see docs/benchmarks.md)"
)]
struct Cli {
    /// Redis connection string.
    #[arg(
        long,
        env = "REDCHAT_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true
    )]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Direct-message delivery under load (and `--chaos`, `--matrix`, `--firehose`).
    #[command(
        after_help = "Examples:\n  redchat-bench delivery --users 100 --rate 5000 --payload 100\n  redchat-bench delivery --matrix --out docs/bench/delivery.json"
    )]
    Delivery(delivery::BenchArgs),
    /// One room with many members receiving a rate, against bare SUBSCRIBE on the same channel.
    Room(rooms::RoomArgs),
    /// What N users' presence heartbeats cost the server (commands/s, CPU share).
    Presence(rooms::PresenceArgs),
    /// The local message store: storing cost per message and search on a big store, beside
    /// bare SQLite (no Redis needed).
    #[command(
        after_help = "Example:\n  redchat-bench store --messages 1000000 --out docs/bench/store.json"
    )]
    Store(store::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Delivery(args) => runtime.block_on(delivery::run(&cli.url, &args)),
        Command::Room(args) => runtime.block_on(rooms::room(&cli.url, &args)),
        Command::Presence(args) => runtime.block_on(rooms::presence(&cli.url, &args)),
        Command::Store(args) => store::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
