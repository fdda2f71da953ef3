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
//! - [`rooms`]: `join`, `leave`, `rooms`, `members`, `who`.
//! - [`people`]: `contact` (safety numbers, verify, accept, block), `identity`.
//! - [`store`]: `search` and `export` over the local message store.
//! - [`admin`]: `doctor` (why a connection fails), `admin acl` (confining a Redis user).
//!
//! Benchmarks live in `crates/bench` (not shipped).

mod admin;
mod chat;
mod connection;
mod listen;
mod output;
mod people;
mod rooms;
mod send;
mod store;

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
Behind Sentinel: redis+sentinel://host:26379[,host2:26379]/SERVICE[/db] (rediss+sentinel:// for
TLS), or host:26379,serviceName=SERVICE: Redchat asks the sentinels for the master and follows
failovers. Redis Cluster is found by itself (any node will do; cluster=true forces it): rooms
use sharded pub/sub, each command goes to the primary of its slot, and failovers, slot
migrations and restarts are followed.
Keep passwords off the command line: set REDCHAT_PASSWORD, or leave it out and be asked.
TLS trusts the operating system's CAs; --tls-ca adds a company CA, --tls-cert/--tls-key give a
client certificate (mutual TLS), sslHost=NAME (?sslHost=NAME in a URL) checks the certificate
for NAME. There is no option to skip verification. A connection fails? `redchat-cli doctor`.

Delivery: durable by default: every message is also appended to the recipient's inbox stream,
so an offline recipient gets it on their next connect (see docs/delivery.md); --live-only
gives the original client's semantics. `chat` keeps unsent messages in an outbox on disk and
reconnects forever (/retry reconnects now).

Exit codes: 0 success (delivered, or stored for an offline recipient); 1 error (bad input,
connection, authentication); 2 usage error; 3 message not delivered (--live-only and nobody
was listening).

Rooms: `#team` is a room (the username rule for its name): anyone may join; messages go to one
channel and one stream for all members. `~messages` is a raw pub/sub channel (the original
console client's shared channel, plain text).

Presence: `chat` and `listen` show you online (a heartbeat key with a TTL) unless --no-presence;
one-shot commands (send, join, leave, rooms, members, who) never do.

Examples:
  redchat-cli chat --user alice
  REDCHAT_URL=rediss://cache.example.com:6380 redchat-cli send --user bob '@alice deploy done'
  redchat-cli join --user alice '#team' && redchat-cli send --user alice '#team standup in 5'
  redchat-cli members '#team' --json
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
    /// Where `chat` and `listen` keep the outbox, the inbox cursor and the local message
    /// store that `search` and `export` read
    /// [default: $XDG_DATA_HOME/redchat, else ~/.local/share/redchat; %APPDATA%\redchat on Windows].
    #[arg(long, env = "REDCHAT_DATA_DIR", global = true)]
    data_dir: Option<std::path::PathBuf>,
    /// Do not tell others you are online (chat, listen).
    #[arg(long, env = "REDCHAT_NO_PRESENCE", global = true)]
    no_presence: bool,
    /// A PEM file of CA certificates to trust besides the operating system's (TLS).
    #[arg(long, env = "REDCHAT_TLS_CA", global = true, value_name = "FILE")]
    tls_ca: Option<std::path::PathBuf>,
    /// Client certificate chain (PEM) for servers that require one (mutual TLS).
    #[arg(
        long,
        env = "REDCHAT_TLS_CERT",
        global = true,
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM, unencrypted).
    #[arg(
        long,
        env = "REDCHAT_TLS_KEY",
        global = true,
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive chat: `@bob hi` sends to bob, `#team hi` to a room; a line without @ or #
    /// goes to the last conversation. /join #team, /leave [#team], /who, /retry; Ctrl-D or
    /// /quit leaves. Incoming messages print above the line you are typing.
    #[command(
        after_help = "Example:\n  redchat-cli chat --user alice\n  > @bob hello there\n  > /join #team\n  #team> hi all\n  #team> /who"
    )]
    Chat {
        /// Your username (trimmed and lowercased; your inbox channel).
        #[arg(long, short)]
        user: String,
    },
    /// Send one message and exit: 0 delivered (or stored), 3 nobody listening (live-only),
    /// 1 error. Prints the receiver count.
    #[command(
        after_help = "Examples:\n  redchat-cli send --user bob '@alice hi'\n  redchat-cli send --user bob --to alice 'hi'\n  redchat-cli send --user bob '#team hi all'"
    )]
    Send {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// Recipient (`alice`, `@alice`, `#team`); without it the message must start with
        /// @name or #room.
        #[arg(long)]
        to: Option<String>,
        /// The message.
        message: String,
    },
    /// Print incoming messages until interrupted. With --json, one JSON object per line.
    #[command(after_help = "\
JSON lines (NDJSON), one per event, `kind` first:
  {\"kind\":\"chat\",\"id\":..,\"conversation\":\"@bob|#team|~channel\",\"sender\":..,\"to\":..,\"room\":\"team\"|null,
   \"content\":..,\"sentAt\":..,\"receivedAt\":..,\"at\":<ms>,\"channel\":..,\"legacy\":..,\"durable\":..,\"mine\":..,\"mentionsMe\":..,
   \"trust\":\"verified|signed|unsigned|invalid|keyChanged\",\"request\":..,\"senderIssue\":..?,\"lookalike\":..?}
   trust: verified = signed by the key you verified; signed = by the key pinned for the sender
   (the first seen); unsigned = no signature (the original client, redis-cli); invalid = a
   signature that does not verify (forged or altered); keyChanged = valid, but by another key.
   mine is true only for messages signed by your own key. id: your own messages keep their
   MessageId; someone else's authentic message is <sender>@<MessageId>, anything else
   <MessageId>~<hash> (so no message can take another's id). request: a stranger's direct message
   (the window files it under Requests); every message is printed, a stranger's too.
  {\"kind\":\"keyChanged\",\"conversation\":..,\"user\":..}  (once per new key)
  {\"kind\":\"blocked\",\"user\":..,\"count\":..}  (a blocked sender's messages dropped so far)
  {\"kind\":\"notice\",\"code\":\"stream_wrong_type|stream_forbidden|stream_reset|stream_exhausted|stream_future_id|
   room_list_unreadable|room_list_garbage|members_unreadable|auth_refused|overflow|local_store\",\"text\":..}
  {\"kind\":\"membership\",\"id\":..,\"conversation\":\"#team\",\"room\":\"team\",\"user\":..,\"action\":\"join|leave\",\"at\":..,\"trust\":..}
  {\"kind\":\"typing\",\"conversation\":..,\"user\":..}
  {\"kind\":\"presence\",\"user\":..,\"online\":true|false,\"lastSeen\":..}
  {\"kind\":\"unread\",\"conversation\":..,\"count\":..,\"mentions\":..}
  {\"kind\":\"joined\",\"conversations\":[..]}  {\"kind\":\"members\",..}  {\"kind\":\"who\",\"users\":[..]}
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
    /// Search the messages this device stored (`chat` and `listen` store every message they
    /// see under --data-dir). Newest first. Does not connect to Redis.
    #[command(after_help = "\
QUERY: words (all must match; the last one also as a prefix) and filters:
  from:alice  in:#team | in:bob | in:~messages  before:2026-12-01  after:2026-11-01
Dates are days in your time zone (after: a day means from the next day on) or RFC 3339 times.
Quotes, stars and parentheses are searched as typed, never as search syntax.

With --json, one object per hit per line, the shape of `listen --json`'s chat lines:
  {\"id\":..,\"conversation\":..,\"sender\":..,\"to\":..,\"room\":..,\"content\":..,\"sentAt\":..,
   \"receivedAt\":..,\"at\":<ms>,\"trust\":..,\"mine\":..,\"request\":..,...}
Plain-text lines of raw channels have an empty sender.

Examples:
  redchat-cli search --user alice deploy
  redchat-cli search --user alice --with '#team' 'release from:bob after:2026-11-01' --json")]
    Search {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// Only this conversation: a person (`bob`, `@bob`), `#room` or `~channel`.
        #[arg(long, value_name = "PEER|#ROOM")]
        with: Option<String>,
        /// Hits printed at most.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// NDJSON output.
        #[arg(long)]
        json: bool,
        /// What to find (words and filters).
        query: String,
    },
    /// Export the messages this device stored, one conversation (--with) or all of them,
    /// as JSON lines, CSV or Markdown; to stdout, or --out FILE (created readable by you alone).
    #[command(after_help = "\
json: one object per line: {\"id\",\"conversation\",\"sender\",\"to\",\"room\",\"content\",\"sentAt\",
  \"receivedAt\",\"trust\",\"mine\",\"request\"[,\"senderIssue\",\"lookalike\"]}
csv: a header row with the same columns (content last); a cell that would start a spreadsheet
  formula (= + - @) begins with ' so it stays text.
md: a transcript per conversation; message text is escaped so it cannot become links or HTML.
trust: verified, signed, unsigned, invalid (forged), keyChanged, as `listen` shows it.

Examples:
  redchat-cli export --user alice --format md --with bob > bob.md
  redchat-cli export --user alice --format csv --out all.csv")]
    Export {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// Only this conversation: a person (`bob`, `@bob`), `#room` or `~channel`.
        #[arg(long, value_name = "PEER|#ROOM")]
        with: Option<String>,
        /// json, csv or md.
        #[arg(long, value_parser = ["json", "csv", "md"])]
        format: String,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Join (or create) a room `#team`, or listen on a raw channel `~messages`, and exit.
    #[command(after_help = "Example:\n  redchat-cli join --user alice '#team'")]
    Join {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// `#room` or `~channel`.
        room: String,
    },
    /// Leave a room or channel, and exit.
    #[command(after_help = "Example:\n  redchat-cli leave --user alice '#team'")]
    Leave {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// `#room` or `~channel`.
        room: String,
    },
    /// The rooms and channels you are in. With --json, one object per line:
    /// {"conversation":"#team","room":"team"} (room null for ~channels).
    Rooms {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// NDJSON output.
        #[arg(long)]
        json: bool,
    },
    /// A room's members and whether each is online. With --json, one object per line:
    /// {"user":"bob","online":true,"lastSeen":null}.
    #[command(after_help = "Example:\n  redchat-cli members '#team' --json")]
    Members {
        /// The room.
        room: String,
        /// Who asks (any name; not shown online) [default: redchat-cli].
        #[arg(long, short, default_value = "redchat-cli")]
        user: String,
        /// NDJSON output.
        #[arg(long)]
        json: bool,
    },
    /// Who is online now. With --json, one object per online user per line:
    /// {"user":"bob","online":true,"lastSeen":null}.
    Who {
        /// Who asks (any name; not shown online) [default: redchat-cli].
        #[arg(long, short, default_value = "redchat-cli")]
        user: String,
        /// NDJSON output.
        #[arg(long)]
        json: bool,
    },
    /// A person: their safety number, whether you verified it, whether they are a contact,
    /// a request or blocked; the flags change that (the change is printed after).
    #[command(after_help = "\
Every message Redchat sends is signed with the sender's identity key. The first key seen from
someone is pinned; compare the safety number (the same 60 digits on both sides) with them in
person or on a call, then --mark-verified. A message signed by another key says keyChanged
until you --accept-key. Takes the data directory's lock: stop `chat`/`listen`/the app first.

With --json: {\"user\":..,\"standing\":\"contact|request|blocked\",\"key\":..,\"publishedKey\":..,
 \"verified\":..,\"newKey\":..,\"safetyNumber\":\"12345 ...\",\"myKey\":..}

Examples:
  redchat-cli contact --user alice bob
  redchat-cli contact --user alice bob --mark-verified
  redchat-cli contact --user alice spammer --block")]
    Contact {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// The person.
        who: String,
        #[command(flatten)]
        action: ContactAction,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Your identity key: its public half and where the private half is kept. --export
    /// prints the private key (to move it to another device of yours: keep it secret);
    /// --import FILE (or - for stdin) makes this device sign as that identity.
    #[command(after_help = "\
A user has one identity key; a second device imports it rather than making its own, so
people who pinned your key keep trusting your messages. A device that does not import it
makes a new key, and everyone sees your messages from it as keyChanged.

Example:
  redchat-cli identity --user alice --export | ssh laptop redchat-cli identity --user alice --import -")]
    Identity {
        /// Your username.
        #[arg(long, short)]
        user: String,
        /// Print the private key (secret!).
        #[arg(long, conflicts_with = "import")]
        export: bool,
        /// Replace this device's key with an exported one (a file, or - for stdin).
        #[arg(long, value_name = "FILE")]
        import: Option<String>,
    },
    /// Check a connection: parse it, connect, and report host, port, TLS and how the
    /// certificate was verified, user, database, server version and flavour, RESP3, cluster,
    /// latency and which commands Redchat needs this Redis user may run. Each problem is one
    /// line with its fix. Exit 0 with no problems, 1 otherwise.
    #[command(after_help = "\
With --json, one object: {\"connection\":..,\"host\":..,\"port\":..,\"tls\":..,\"tlsVerification\":..,
 \"user\":..,\"passwordSet\":..,\"database\":..,\"redchatUser\":..,\"connected\":..,\"serverVersion\":..,
 \"flavour\":..,\"resp3\":..,\"cluster\":..,\"latencyMs\":..,\"commandsCheckedWith\":..,
 \"commands\":[{\"command\":..,\"purpose\":..,\"allowed\":..}],\"notes\":[..],\"problems\":[{\"code\":..,\"message\":..}]}
The password never appears, only whether one is set.

Problem codes: invalid_settings, refused, unknown_host, unreachable, timeout, auth, forbidden,
tls_required, not_tls, tls_untrusted, tls_name, tls_client_cert, tls_client_cert_refused,
tls_expired, tls_files, no_resp3, old_server, not_redis, cluster, sentinel.

Examples:
  redchat-cli doctor --url rediss://cache.example.com:6380 --user alice
  redchat-cli doctor --url 'name.redis.cache.windows.net:6380,ssl=True' --no-connect --json")]
    Doctor {
        /// The Redchat username whose keys the command checks use [default: the Redis user].
        #[arg(long, short)]
        user: Option<String>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
        /// Stop after parsing (and checking that the TLS files exist).
        #[arg(long)]
        no_connect: bool,
    },
    /// For Redis admins.
    #[command(subcommand)]
    Admin(AdminCommand),
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

#[derive(Subcommand)]
enum AdminCommand {
    /// Print one line, a complete `ACL SETUSER USER ...` command for redis-cli, confining
    /// USER to what Redchat needs as USER: their own inbox, streams and read positions; rooms;
    /// adding to other users' inboxes; their own presence and public key. Nothing else (no
    /// KEYS, CONFIG, FLUSHALL, CLIENT, no other user's inbox). Passwords are left alone.
    #[command(after_help = "\
Needs Redis 7 or later (ACL selectors). Add a password and turn the user on afterwards:
  redchat-cli admin acl bob | redis-cli --user admin --pass ADMINPW
  redis-cli --user admin --pass ADMINPW ACL SETUSER bob on '>secret'
Raw channels (~messages) are not included: add e.g. '&messages' for the console client's channel.
See docs/security.md (the admin's guide) for turning the default user off.")]
    Acl {
        /// The user (a Redchat username; also the Redis ACL user).
        user: String,
    },
}

/// What `contact` changes before it prints.
#[derive(Args, Clone, Default)]
pub struct ContactAction {
    /// You compared the safety number with them: mark their key as verified.
    #[arg(long)]
    mark_verified: bool,
    /// Take the verified mark back.
    #[arg(long)]
    unmark_verified: bool,
    /// Trust the new key they sign with (after checking with them).
    #[arg(long)]
    accept_key: bool,
    /// Accept a request: they become a contact.
    #[arg(long)]
    accept: bool,
    /// Block them: their messages are dropped (and counted).
    #[arg(long, conflicts_with = "accept")]
    block: bool,
    /// Lift a block (they are a request again).
    #[arg(long)]
    unblock: bool,
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
        Command::Join { user, room } => {
            runtime.block_on(rooms::join(&cli.connection, &user, &room))
        }
        Command::Leave { user, room } => {
            runtime.block_on(rooms::leave(&cli.connection, &user, &room))
        }
        Command::Rooms { user, json } => {
            runtime.block_on(rooms::rooms(&cli.connection, &user, json))
        }
        Command::Members { room, user, json } => {
            runtime.block_on(rooms::members(&cli.connection, &user, &room, json))
        }
        Command::Who { user, json } => runtime.block_on(rooms::who(&cli.connection, &user, json)),
        Command::Contact {
            user,
            who,
            action,
            json,
        } => runtime.block_on(people::contact(&cli.connection, &user, &who, &action, json)),
        Command::Identity {
            user,
            export,
            import,
        } => people::identity(&cli.connection, &user, export, import.as_deref()),
        Command::Doctor {
            user,
            json,
            no_connect,
        } => runtime.block_on(admin::doctor(
            &cli.connection,
            user.as_deref(),
            json,
            no_connect,
        )),
        Command::Admin(AdminCommand::Acl { user }) => admin::acl(&cli.connection, &user),
        Command::Search {
            user,
            with,
            limit,
            json,
            query,
        } => store::search(&cli.connection, &user, with.as_deref(), &query, limit, json),
        Command::Export {
            user,
            with,
            format,
            out,
        } => store::export(
            &cli.connection,
            &user,
            with.as_deref(),
            &format,
            out.as_deref(),
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
