//! `redchat-cli`: Redchat without a window, for terminals, scripts, bots and servers.
//!
//! Glue only: settings parsing, the username rule, the wire format and the session all come
//! from `redchat-core`, exactly as in the desktop app.
//!
//! # Layout
//! - `main.rs`: arguments, exit codes, dispatch.
//! - [`connection`]: `--url` / `REDCHAT_URL`, password from `REDCHAT_PASSWORD` or a prompt.
//! - [`output`]: how events are printed (human lines or NDJSON), terminal-safe.
//! - [`chat`]: the interactive line editor (incoming messages never garble the typed line).
//! - [`send`], [`listen`]: the script-friendly commands.
//! - [`bench`]: load against Redis, Redchat's path vs bare redis-rs.

mod bench;
mod chaos;
mod chat;
mod connection;
mod listen;
mod output;
mod send;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code when a message reached nobody (PUBLISH returned 0).
pub const EXIT_NOT_DELIVERED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "redchat-cli",
    version,
    about = "Chat over Redis pub/sub from a terminal: the same protocol as the Redchat app",
    after_help = "\
Connection strings: redis://[user:password@]host[:port][/db], rediss://... (TLS), host:port, or the
Azure portal's form name.redis.cache.windows.net:6380,password=KEY,ssl=True,abortConnect=False.
Keep passwords off the command line: set REDCHAT_PASSWORD, or leave it out and be asked.

Delivery: durable by default: every message is also appended to the recipient's inbox stream,
so an offline recipient gets it on their next connect (see docs/delivery.md); --live-only
gives the original client's semantics. `chat` keeps unsent messages in an outbox on disk and
reconnects forever (/retry reconnects now).

Exit codes: 0 success (delivered, or stored for an offline recipient); 1 error (bad input,
connection, authentication); 2 usage error; 3 message not delivered (--live-only and nobody
was listening).

Examples:
  redchat-cli chat --user alice
  REDCHAT_URL=rediss://cache.example.com:6380 redchat-cli send --user bob '@alice deploy done'
  redchat-cli listen --user alice --json | jq .content
  redchat-cli broadcast --user alice --channel messages"
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConnectionArgs {
    /// Redis connection string (any form the app accepts).
    #[arg(
        long,
        env = "REDCHAT_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true,
        hide_env_values = true
    )]
    url: String,
    /// Prefix for inbox channel names (empty: same inboxes as the original client).
    #[arg(long, env = "REDCHAT_NAMESPACE", default_value = "", global = true)]
    namespace: String,
    /// Live-only delivery, like the original client: PUBLISH only, nothing stored, messages
    /// to offline users are lost. Default: durable (also kept in the recipient's inbox stream).
    #[arg(long, env = "REDCHAT_LIVE_ONLY", global = true)]
    live_only: bool,
    /// Where `chat` and `listen` keep the outbox and the inbox cursor
    /// [default: $XDG_DATA_HOME/redchat or ~/.local/share/redchat].
    #[arg(long, env = "REDCHAT_DATA_DIR", global = true)]
    data_dir: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive chat: `@bob hi` sends to bob; a line without @ goes to the last person you
    /// wrote to. Incoming messages print above the line you are typing. Ctrl-D or /quit leaves.
    #[command(after_help = "Example:\n  redchat-cli chat --user alice\n  > @bob hello there")]
    Chat {
        /// Your username (trimmed and lowercased; your inbox channel).
        #[arg(long, short)]
        user: String,
    },
    /// Send one message and exit: 0 delivered, 3 nobody listening, 1 error. Prints the
    /// receiver count.
    #[command(
        after_help = "Examples:\n  redchat-cli send --user bob '@alice hi'\n  redchat-cli send --user bob --to alice 'hi'"
    )]
    Send {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// Recipient; without it the message must start with @name.
        #[arg(long)]
        to: Option<String>,
        /// The message.
        message: String,
    },
    /// Print incoming messages until interrupted. With --json, one JSON object per line.
    #[command(after_help = "\
JSON lines (NDJSON), one per event, `kind` first:
  {\"kind\":\"chat\",\"id\":..,\"sender\":..,\"to\":..,\"content\":..,\"sentAt\":..,\"receivedAt\":..,\"channel\":..,\"legacy\":..}
  {\"kind\":\"plain\",\"id\":..,\"channel\":..,\"text\":..,\"receivedAt\":..}
  {\"kind\":\"unreadable\",\"id\":..,\"channel\":..,\"reason\":..,\"preview\":..,\"size\":..,\"receivedAt\":..}
  {\"kind\":\"status\",\"state\":\"connected|reconnecting|disconnected\",\"user\":..,\"addr\":..,\"reason\":..}

Example:
  redchat-cli listen --user alice --json | jq -r 'select(.kind==\"chat\") | .content'")]
    Listen {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// NDJSON output (stable shape, documented above).
        #[arg(long)]
        json: bool,
    },
    /// Measure the delivery path under load, against bare redis-rs on the same server.
    #[command(
        after_help = "Examples:\n  redchat-cli bench --users 100 --rate 5000 --payload 100\n  redchat-cli bench --matrix --out docs/bench/delivery.json"
    )]
    Bench(bench::BenchArgs),
    /// The original console client's mode: everyone chats on one shared channel with
    /// plain-text payloads ("alice: hello").
    #[command(after_help = "Example:\n  redchat-cli broadcast --user alice --channel messages")]
    Broadcast {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// The shared channel.
        #[arg(long, default_value = "messages")]
        channel: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read the local UTC offset while the process has one thread: the `time` crate refuses
    // afterwards on Unix.
    output::init_local_offset();
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
        Command::Chat { user } => chat::run(&runtime, &cli.connection, &user, None),
        Command::Broadcast { user, channel } => {
            chat::run(&runtime, &cli.connection, &user, Some(channel))
        }
        Command::Send { user, to, message } => {
            runtime.block_on(send::run(&cli.connection, &user, to.as_deref(), &message))
        }
        Command::Listen { user, json } => {
            runtime.block_on(listen::run(&cli.connection, &user, json))
        }
        Command::Bench(args) => runtime.block_on(bench::run(&cli.connection, &args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
