//! The doctor: why a connection fails, in plain words, each problem with its fix.
//!
//! [`examine`] parses nothing itself (callers hand it settings, or a parse error through
//! [`Report::unparsable`]); it reaches the host, opens a connection the way a session does
//! (RESP3, TLS as configured), reads `INFO`, times `PING`s and checks every command Redchat
//! needs ([`crate::acl::needs`]) with `ACL DRYRUN` where this user may run it, else by
//! queueing each inside `MULTI` and discarding it (ACLs are checked when a command is
//! queued; nothing runs). The report never holds the password, only whether one is set.

use std::time::{Duration, Instant};

use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::Serialize;

use crate::error::Error;
use crate::keys::Keys;
use crate::settings::ConnectionSettings;
use crate::username::{Namespace, Username};

/// One problem and its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable code (`auth`, `forbidden`, `tls_untrusted`, `old_server`, `cluster`, …).
    pub code: String,
    /// What is wrong and what to do, in one line.
    pub message: String,
}

/// One command Redchat needs and whether this Redis user may run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandCheck {
    /// The command name (`XADD`).
    pub command: String,
    /// What Redchat uses it for.
    pub purpose: String,
    /// Allowed (`None`: could not be checked).
    pub allowed: Option<bool>,
}

/// What the doctor found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The connection string as given, password removed.
    pub connection: String,
    /// Host (empty when the string did not parse).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS on.
    pub tls: bool,
    /// How the server's certificate is checked.
    pub tls_verification: String,
    /// The Redis (ACL) user, `default` when none is given.
    pub user: String,
    /// A password is set (never the password).
    pub password_set: bool,
    /// Database number.
    pub database: i64,
    /// The Redchat username the command checks were made for.
    pub redchat_user: Option<String>,
    /// The connection was made (a Redis handshake succeeded).
    pub connected: bool,
    /// `redis_version` (or `valkey_version`).
    pub server_version: Option<String>,
    /// Redis, Valkey, Azure Cache for Redis, Azure Managed Redis…
    pub flavour: Option<String>,
    /// The server speaks RESP3 (needed for push-based pub/sub).
    pub resp3: Option<bool>,
    /// The server is a Redis Cluster node.
    pub cluster: Option<bool>,
    /// Median of five PING round trips, in milliseconds.
    pub latency_ms: Option<f64>,
    /// How commands were checked (`ACL DRYRUN`, `MULTI`), if they were.
    pub commands_checked_with: Option<String>,
    /// Every command Redchat needs.
    pub commands: Vec<CommandCheck>,
    /// Things worth knowing that are not problems.
    pub notes: Vec<String>,
    /// Each problem with its fix; empty when all is well.
    pub problems: Vec<Problem>,
}

impl Report {
    /// A report for a string that does not parse.
    pub fn unparsable(error: &crate::settings::ParseError) -> Report {
        let mut report = Report::default();
        report.problem(
            "invalid_settings",
            format!("the connection string does not parse: {error}; see `redchat-cli --help` for the accepted forms"),
        );
        report
    }

    /// The report for `settings` before connecting.
    pub fn of_settings(settings: &ConnectionSettings, notes: &[String]) -> Report {
        let mut report = Report {
            connection: settings.to_url(false),
            host: settings.host.clone(),
            port: settings.port,
            tls: settings.tls,
            tls_verification: crate::tls::trust_description(settings),
            user: settings.user.clone().unwrap_or_else(|| "default".into()),
            password_set: settings.password.is_some(),
            database: settings.db,
            notes: notes.to_vec(),
            ..Report::default()
        };
        if settings.user.is_some() && settings.password.is_none() {
            report.notes.push(
                "a user name without a password is not sent to the server: the connection is made as the default user".into(),
            );
        }
        if settings.password_in_clear() {
            report.notes.push(format!(
                "the password goes to {} unencrypted (plain TCP, not this computer): use TLS (rediss://) if the server offers it",
                settings.host
            ));
        }
        report
    }

    fn problem(&mut self, code: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            code: code.into(),
            message: message.into(),
        });
    }

    /// The report as text, one fact per line, then the problems (what "Copy report" copies).
    pub fn to_text(&self) -> String {
        let mut out = String::from("Redchat doctor\n");
        let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<12} {v}\n"));
        let unknown = || "unknown".to_string();
        line("connection", self.connection.clone());
        line("host", self.host.clone());
        line("port", self.port.to_string());
        line(
            "tls",
            if self.tls {
                format!("yes: {}", self.tls_verification)
            } else {
                "no".into()
            },
        );
        line(
            "user",
            format!(
                "{} ({})",
                self.user,
                if self.password_set {
                    "password set"
                } else {
                    "no password"
                }
            ),
        );
        line("database", self.database.to_string());
        if let Some(u) = &self.redchat_user {
            line("redchat as", u.clone());
        }
        line(
            "connected",
            if self.connected { "yes" } else { "no" }.into(),
        );
        line(
            "server",
            match (&self.flavour, &self.server_version) {
                (Some(f), Some(v)) => format!("{f} {v}"),
                (None, Some(v)) => v.clone(),
                _ => unknown(),
            },
        );
        let yes_no =
            |b: Option<bool>| b.map_or_else(unknown, |b| if b { "yes" } else { "no" }.into());
        line("resp3", yes_no(self.resp3));
        line("cluster", yes_no(self.cluster));
        line(
            "latency",
            self.latency_ms
                .map_or_else(unknown, |ms| format!("{ms:.2} ms (median of 5 PINGs)")),
        );
        if let Some(how) = &self.commands_checked_with {
            let allowed = self
                .commands
                .iter()
                .filter(|c| c.allowed == Some(true))
                .count();
            line(
                "commands",
                format!(
                    "{allowed} of {} allowed (checked with {how})",
                    self.commands.len()
                ),
            );
            for c in self.commands.iter().filter(|c| c.allowed == Some(false)) {
                out.push_str(&format!("    refused: {} ({})\n", c.command, c.purpose));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        if self.problems.is_empty() {
            out.push_str("No problems found.\n");
        } else {
            out.push_str(&format!("{} problem(s):\n", self.problems.len()));
            for p in &self.problems {
                out.push_str(&format!("  [{}] {}\n", p.code, p.message));
            }
        }
        out
    }
}

/// Connects with `settings` and reports. `user` is the Redchat username whose keys the
/// command checks use (the ACL user's name when it is a valid username, else skipped).
pub async fn examine(
    settings: &ConnectionSettings,
    notes: &[String],
    user: Option<&Username>,
    namespace: &Namespace,
) -> Report {
    let mut report = Report::of_settings(settings, notes);
    // Behind Sentinel: ask the sentinels for the master, then examine the master.
    let resolved;
    let settings = match settings.sentinel() {
        None => settings,
        Some((service, _)) => match crate::sentinel::master(settings).await {
            Ok(master) => {
                report.notes.push(format!(
                    "sentinel {} names {}:{} the master of \"{service}\" ({} replica(s) known)",
                    master.sentinel, master.host, master.port, master.replicas
                ));
                if master.replicas == 0 {
                    report.notes.push(
                        "no replica: a failover has nothing to promote, and each durable send waits briefly for a replica's confirmation".into(),
                    );
                }
                resolved = settings.at(master.host.as_str(), master.port);
                report.host.clone_from(&resolved.host);
                report.port = resolved.port;
                &resolved
            }
            Err(e) => {
                report.problem("sentinel", e.to_string());
                return report;
            }
        },
    };
    let addr = settings.addr();
    // 1. Anything at the address?
    let connect = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port));
    match tokio::time::timeout(settings.connect_timeout, connect).await {
        Ok(Ok(_)) => {}
        Err(_) => {
            report.problem(
                "timeout",
                format!(
                    "no TCP connection to {addr} within {} s: a firewall drops the traffic, or the host is down; check the host and that your network may reach it (Azure: the cache's firewall and private endpoint settings)",
                    settings.connect_timeout.as_secs_f32()
                ),
            );
            return report;
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            report.problem(
                "refused",
                format!(
                    "nothing listens on port {} at {}: check the port (Redis: 6379; Azure: 6380 with TLS, 10000 for Managed Redis) and that redis-server is running",
                    settings.port, settings.host
                ),
            );
            return report;
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.contains("lookup")
                || text.contains("not known")
                || text.contains("resolve")
                || text.contains("no address")
            {
                report.problem(
                    "unknown_host",
                    format!(
                        "the host name \"{}\" is not found (DNS): check its spelling",
                        settings.host
                    ),
                );
            } else {
                report.problem(
                    "unreachable",
                    format!("cannot reach {addr}: {text}; check the network and the host"),
                );
            }
            return report;
        }
    }
    // A TLS hello sent to a plain Redis port waits for a line end that never comes: ask in
    // plain words first, which answers at once.
    if settings.tls && answers_plain_redis(settings).await {
        report.problem(
            "not_tls",
            format!(
                "{addr} answers plain Redis, without TLS: use redis:// (or ssl=False), or the server's TLS port (Azure: 6380)"
            ),
        );
        return report;
    }
    // 2. A Redis handshake as a session makes it (RESP3, TLS as configured).
    let mut conn = match open(settings, redis::ProtocolVersion::RESP3).await {
        Ok(conn) => {
            report.resp3 = Some(true);
            conn
        }
        Err(e) if e.problem_code() == "no_resp3" => {
            report.resp3 = Some(false);
            match open(settings, redis::ProtocolVersion::RESP2).await {
                Ok(mut conn) => {
                    server_info(&mut conn, &mut report).await;
                    let old = report
                        .server_version
                        .as_deref()
                        .and_then(major)
                        .is_some_and(|m| m < 6);
                    if old {
                        report.problem(
                            "old_server",
                            format!(
                                "{} {} is too old: Redchat needs Redis 6 or later (RESP3 pub/sub; 7 or later for the admin acl recipe) or Valkey; upgrade the server",
                                report.flavour.as_deref().unwrap_or("Redis"),
                                report.server_version.as_deref().unwrap_or("")
                            ),
                        );
                    } else {
                        report.problem(
                            "no_resp3",
                            "the server refuses HELLO 3, so RESP3 is off (HELLO renamed or disabled, or a proxy that only speaks RESP2): Redchat needs RESP3 for pub/sub; ask the admin to allow HELLO, or connect past the proxy",
                        );
                    }
                    report.connected = true;
                }
                Err(e) => report.problem(e.problem_code(), e.to_string()),
            }
            return report;
        }
        Err(e) => {
            let message = match e.problem_code() {
                "auth" => "the server refused the user name or password: check the password (Azure: the access key; for an ACL user, user:password@ in the URL)".to_string(),
                "timeout" => format!(
                    "the port at {addr} accepts connections but nothing answers like Redis within {} s: the wrong port, a TLS port reached without TLS, or a proxy holding the connection",
                    settings.connect_timeout.as_secs_f32()
                ),
                _ => e.to_string(),
            };
            report.problem(e.problem_code(), message);
            return report;
        }
    };
    report.connected = true;
    server_info(&mut conn, &mut report).await;
    report.latency_ms = latency(&mut conn).await;
    // 3. The commands Redchat needs.
    let me = user.cloned().or_else(|| {
        settings
            .user
            .as_deref()
            .and_then(|u| Username::parse(u).ok())
    });
    match me {
        Some(me) => {
            report.redchat_user = Some(me.to_string());
            check_commands(&mut conn, settings, &Keys::new(namespace), &me, &mut report).await;
        }
        None => report
            .notes
            .push("give --user NAME to check the commands Redchat needs as that user".into()),
    }
    report
}

/// Whether a plain `PING` gets a Redis answer (`+PONG`, `-NOAUTH …`) within two seconds.
async fn answers_plain_redis(settings: &ConnectionSettings) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream =
            tokio::net::TcpStream::connect((settings.host.as_str(), settings.port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await?;
        Ok::<_, std::io::Error>(matches!(first[0], b'+' | b'-'))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Ok(true))
    )
}

/// Opens one connection speaking `protocol`, with the session's TLS and timeouts.
async fn open(
    settings: &ConnectionSettings,
    protocol: redis::ProtocolVersion,
) -> Result<MultiplexedConnection, Error> {
    let addr = settings.addr();
    let client = crate::tls::client_speaking(settings, protocol)?;
    let mut config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.response_timeout));
    if let Some(redirect) = crate::tls::Redirect::of(settings) {
        config = config.set_dns_resolver(redirect);
    }
    let limit = settings.connect_timeout + settings.response_timeout;
    match tokio::time::timeout(
        limit,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) if e.is_timeout() => Err(handshake_silence(settings)),
        Ok(Err(e)) => Err(Error::from_redis(&e, &addr, settings.tls)),
        Err(_) => Err(handshake_silence(settings)),
    }
}

fn handshake_silence(settings: &ConnectionSettings) -> Error {
    if settings.tls {
        Error::Tls {
            addr: settings.addr(),
            detail: "the TLS handshake got no answer: the server does not speak TLS on this port (use redis:// or ssl=False, or the TLS port)".into(),
        }
    } else {
        Error::Timeout {
            addr: settings.addr(),
            after: settings.connect_timeout,
        }
    }
}

fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// Version, flavour and mode: from `HELLO` (no arguments: it changes nothing and every
/// user may run it), else from `INFO server` (servers without HELLO).
async fn server_info(conn: &mut MultiplexedConnection, report: &mut Report) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let hello: redis::RedisResult<Value> = redis::cmd("HELLO").query_async(conn).await;
    let pairs = match hello {
        Ok(Value::Map(pairs)) => pairs,
        Ok(Value::Array(items)) => items
            .chunks(2)
            .filter_map(|c| Some((c.first()?.clone(), c.get(1)?.clone())))
            .collect(),
        _ => Vec::new(),
    };
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            redis::from_redis_value::<String>(k),
            redis::from_redis_value::<String>(v),
        ) {
            let name = match k.as_str() {
                "server" => "server_name",
                "version" => "redis_version",
                "mode" => "redis_mode",
                "role" => "role",
                _ => continue,
            };
            fields.push((name.into(), v));
        }
    }
    if fields.is_empty() {
        let info: redis::RedisResult<String> =
            redis::cmd("INFO").arg("server").query_async(conn).await;
        match info {
            Ok(info) => {
                for l in info.lines() {
                    if let Some((k, v)) = l.split_once(':') {
                        fields.push((k.trim().into(), v.trim().into()));
                    }
                }
            }
            Err(_) => {
                report.notes.push(
                    "neither HELLO nor INFO is allowed for this user: the server version is unknown"
                        .into(),
                );
                return;
            }
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let valkey = field("valkey_version").or_else(|| {
        field("server_name")
            .filter(|n| n.eq_ignore_ascii_case("valkey"))
            .and(field("redis_version"))
    });
    let host = report.host.to_ascii_lowercase();
    let flavour = if host.ends_with(".redis.cache.windows.net") {
        "Azure Cache for Redis"
    } else if host.ends_with(".redis.azure.net") {
        "Azure Managed Redis"
    } else if valkey.is_some() {
        "Valkey"
    } else {
        "Redis"
    };
    report.flavour = Some(flavour.into());
    report.server_version = valkey.clone().or_else(|| field("redis_version"));
    let mode = field("redis_mode").unwrap_or_default();
    report.cluster = Some(mode == "cluster");
    if mode == "cluster" {
        let asked = crate::cluster::NodeAddr {
            host: report.host.clone(),
            port: report.port,
        };
        match crate::cluster::slot_map(conn, &asked).await {
            Ok(map) => {
                let (primaries, replicas) = map.node_counts();
                report.notes.push(format!(
                    "a Redis Cluster of {primaries} primaries and {replicas} replicas: rooms use sharded pub/sub, inboxes classic pub/sub (sent to every node)"
                ));
                if map.uncovered() > 0 {
                    report.problem(
                        "cluster_not_ok",
                        format!(
                            "{} of 16384 slots have no primary: the cluster is not ok (forming, or a primary down without a replica); Redchat keeps trying; check it with redis-cli --cluster check",
                            map.uncovered()
                        ),
                    );
                }
            }
            Err(e) => report.problem(
                "cluster_map",
                format!(
                    "the cluster's slot map cannot be read ({e}): Redchat needs CLUSTER SLOTS to find the primaries"
                ),
            ),
        }
    } else if field("role").as_deref() == Some("replica") {
        report.problem(
            "replica",
            "this server is a read-only replica: connect to its master, or to the sentinels with redis+sentinel://host:26379/SERVICE so Redchat follows failovers",
        );
    } else if mode == "sentinel" {
        report.problem(
            "sentinel",
            "this is a Sentinel, not a data server: use redis+sentinel://host:26379/SERVICE (or add serviceName=SERVICE) and Redchat asks it for the master",
        );
    }
    if valkey.is_none()
        && report
            .server_version
            .as_deref()
            .and_then(major)
            .is_some_and(|m| m < 7)
    {
        report.notes.push(
            "Redis 6 has no ACL selectors: `redchat-cli admin acl` recipes need Redis 7 or later"
                .into(),
        );
    }
}

async fn latency(conn: &mut MultiplexedConnection) -> Option<f64> {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let pong: redis::RedisResult<Value> = redis::cmd("PING").query_async(conn).await;
        pong.ok()?;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

async fn check_commands(
    conn: &mut MultiplexedConnection,
    settings: &ConnectionSettings,
    keys: &Keys,
    me: &Username,
    report: &mut Report,
) {
    let needs = crate::acl::needs(keys, me);
    // A user name without a password is not sent: the connection is `default`.
    let acl_user = settings
        .user
        .clone()
        .filter(|_| settings.password.is_some())
        .unwrap_or_else(|| "default".into());
    let mut results: Vec<Option<bool>> = Vec::new();
    // ACL DRYRUN (Redis 7) when this user may run it: exact, and for channels too.
    let dry: redis::RedisResult<Value> = redis::cmd("ACL")
        .arg("DRYRUN")
        .arg(&acl_user)
        .arg("PING")
        .query_async(conn)
        .await;
    if matches!(dry, Ok(Value::Okay) | Ok(Value::SimpleString(_))) {
        report.commands_checked_with = Some("ACL DRYRUN".into());
        for need in &needs {
            let mut cmd = redis::cmd("ACL");
            cmd.arg("DRYRUN").arg(&acl_user).arg(&need.command);
            let answer: redis::RedisResult<Value> = cmd.query_async(conn).await;
            results.push(match answer {
                Ok(Value::Okay) | Ok(Value::SimpleString(_)) => Some(true),
                Ok(Value::BulkString(_)) | Ok(Value::VerbatimString { .. }) => Some(false),
                Ok(Value::ServerError(e)) if e.code() == "NOPERM" => Some(false),
                Err(e) if e.code() == Some("NOPERM") => Some(false),
                _ => None,
            });
        }
    } else {
        // Queued in MULTI: the ACL check happens at queueing; DISCARD runs nothing. MULTI goes
        // alone first: were it refused, the commands after it would run for real.
        let multi: redis::RedisResult<Value> = tokio::time::timeout(
            Duration::from_secs(5),
            redis::cmd("MULTI").query_async(conn),
        )
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()));
        if !matches!(multi, Ok(Value::Okay) | Ok(Value::SimpleString(_))) {
            report.notes.push(
                "this user may run neither ACL DRYRUN nor MULTI, so the commands Redchat needs were not checked".into(),
            );
            return;
        }
        let mut pipe = redis::pipe();
        for need in &needs {
            pipe.cmd(&need.command[0]).arg(&need.command[1..]);
        }
        pipe.cmd("DISCARD");
        pipe.ignore_errors();
        let answers: redis::RedisResult<Vec<Value>> =
            tokio::time::timeout(Duration::from_secs(10), pipe.query_async(conn))
                .await
                .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()));
        match answers {
            Ok(answers) if answers.len() == needs.len() + 1 => {
                report.commands_checked_with = Some("MULTI (queued, then discarded)".into());
                for answer in answers.iter().take(needs.len()) {
                    results.push(match answer {
                        Value::ServerError(e) if e.code() == "NOPERM" => Some(false),
                        // Another refusal at queueing (unknown or renamed command): unknown.
                        Value::ServerError(e)
                            if !e.details().unwrap_or("").contains("inside a transaction") =>
                        {
                            None
                        }
                        _ => Some(true),
                    });
                }
            }
            _ => {
                report
                    .notes
                    .push("the MULTI check got no complete answer: commands not checked".into());
                return;
            }
        }
    }
    for (need, allowed) in needs.iter().zip(results) {
        if allowed == Some(false) {
            report.problem(
                "forbidden",
                format!(
                    "your Redis user may not {} ({}): ask the admin to apply `redchat-cli admin acl {me}`",
                    need.purpose,
                    need.command[0]
                ),
            );
        }
        report.commands.push(CommandCheck {
            command: need.command[0].clone(),
            purpose: need.purpose.into(),
            allowed,
        });
    }
}
