//! Connection settings and the connection-string parser.
//!
//! Accepted forms (see `docs/protocol.md` for the full table):
//! - `redis://[user[:password]@]host[:port][/db]` and `rediss://…` (TLS); user and password are
//!   percent-decoded;
//! - plain `host[:port]`;
//! - the StackExchange.Redis form the Azure portal shows:
//!   `name.redis.cache.windows.net:6380,password=KEY,ssl=True,abortConnect=False`. Option
//!   names are case-insensitive; `password`, `user`, `ssl`, `sslHost`, `defaultDatabase`,
//!   `connectTimeout` and `syncTimeout` are understood, `abortConnect` is accepted (Redchat never
//!   gives up on its own), anything else is ignored with a note.
//!
//! A URL whose user part looks like an access key (`redis://KEY@host`, as portals show it)
//! takes that part as the password, with a note. `?sslHost=name` (URL) and `sslHost=name`
//! (StackExchange) check the server's certificate against `name` instead of the host.
//!
//! The password is held in a [`Secret`], which never prints its content and is wiped from
//! memory when dropped.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroize;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Default time allowed for connecting, as Microsoft advises for Azure Cache for Redis.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time allowed for one command's answer.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A password or access key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call only where it is handed to Redis or the keychain.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret arrives from the window as a string and is wrapped at once.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// TLS beyond on/off: whom to trust besides the operating system's store, the client
/// certificate for mutual TLS, and the name the server's certificate must carry.
/// There is deliberately no way to skip verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted in addition to the OS trust store.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain (PEM), for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must be valid for, when it differs from the host
    /// connected to (StackExchange's `sslHost`).
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// Any option set.
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.server_name.is_some()
    }
}

/// Where and how to connect. Built by [`ConnectionSettings::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Speak TLS (`rediss://`, `ssl=True`).
    pub tls: bool,
    /// CA file, client certificate, server name (only used with `tls`).
    pub tls_options: TlsOptions,
    /// Redis ACL user, if any.
    pub user: Option<String>,
    /// Password or access key, if any.
    pub password: Option<Secret>,
    /// Database number (`/db`, `defaultDatabase`). Pub/sub ignores it; history will not.
    pub db: i64,
    /// Bound on connecting, including the handshake.
    pub connect_timeout: Duration,
    /// Bound on each command's answer.
    pub response_timeout: Duration,
    /// One server, a Cluster, or a master found through Sentinel.
    pub kind: ServerKind,
}

/// What kind of deployment a connection string names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ServerKind {
    /// One server (a Cluster node is recognised when connecting).
    #[default]
    Auto,
    /// A Redis Cluster, forced with `cluster=true`.
    Cluster,
    /// A master found through sentinels (`redis+sentinel://h1:26379,h2:26379/SERVICE`, or
    /// the StackExchange form's `serviceName=`). `host`/`port` are the first sentinel's.
    Sentinel {
        /// The name the sentinels know the master by (`sentinel monitor <name> …`).
        service: String,
        /// Every sentinel given, in order (the first is also `host`/`port`).
        sentinels: Vec<(String, u16)>,
    },
}

/// The port sentinels listen on unless told otherwise.
pub const SENTINEL_PORT: u16 = 26379;

/// The outcome of a successful parse: settings plus notes about ignored parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The settings.
    pub settings: ConnectionSettings,
    /// Human-readable notes (ignored options, extra endpoints), for the UI to show.
    pub notes: Vec<String>,
}

/// Why a connection string was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct ParseError {
    /// 1-based character position of the problem in the trimmed input.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

fn fail<T>(position: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        position: position + 1,
        message: message.into(),
    })
}

/// Characters percent-encoded in the user and password parts of a URL.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl ConnectionSettings {
    /// Settings for `host:port` with every other field at its default.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ConnectionSettings {
            host: host.into(),
            port,
            tls: false,
            tls_options: TlsOptions::default(),
            user: None,
            password: None,
            db: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            kind: ServerKind::Auto,
        }
    }

    /// Settings for the data server at `host:port` found through these (Sentinel) settings:
    /// the same credentials, TLS and timeouts, of kind [`ServerKind::Auto`].
    pub fn at(&self, host: impl Into<String>, port: u16) -> ConnectionSettings {
        ConnectionSettings {
            host: host.into(),
            port,
            kind: ServerKind::Auto,
            ..self.clone()
        }
    }

    /// The sentinels and the service name, for a Sentinel deployment.
    pub fn sentinel(&self) -> Option<(&str, &[(String, u16)])> {
        match &self.kind {
            ServerKind::Sentinel { service, sentinels } => {
                Some((service.as_str(), sentinels.as_slice()))
            }
            _ => None,
        }
    }

    /// Parses any accepted connection-string form.
    ///
    /// # Errors
    /// A [`ParseError`] naming the problem and its 1-based character position.
    pub fn parse(input: &str) -> Result<Parsed, ParseError> {
        let s = input.trim();
        if s.is_empty() {
            return fail(0, "the connection string is empty");
        }
        if let Some(pos) = s.find(|c: char| c.is_control()) {
            return fail(char_pos(s, pos), "control characters are not allowed");
        }
        let lower = s.to_ascii_lowercase();
        if let Some(rest_at) = url_scheme_end(&lower) {
            let scheme = &lower[..rest_at];
            let (base, sentinel) = match scheme.strip_suffix("+sentinel") {
                Some(base) => (base, true),
                None => (scheme, false),
            };
            let tls = match base {
                "redis" | "valkey" => false,
                "rediss" | "valkeys" => true,
                "unix" | "redis+unix" => {
                    return fail(0, "unix sockets are not supported; use host:port");
                }
                _ => {
                    return fail(
                        0,
                        format!(
                            "unsupported scheme \"{scheme}://\"; use redis://, rediss:// or redis+sentinel://"
                        ),
                    );
                }
            };
            return parse_url(s, rest_at + 3, tls, sentinel);
        }
        if s.contains(',') || s.contains('=') {
            return parse_stackexchange(s);
        }
        let (host, port) = parse_endpoint(s, 0, 6379)?;
        Ok(Parsed {
            settings: ConnectionSettings::new(host, port),
            notes: Vec::new(),
        })
    }

    /// `input` as the user wrote it, minus the password: safe to store in a settings file
    /// and to show. URL forms lose the `:password` part of the user info, the
    /// StackExchange.Redis form loses its `password=` option; plain `host:port` has none.
    ///
    /// # Errors
    /// A [`ParseError`] when `input` does not parse (nothing is returned that might hide a
    /// password in a malformed string).
    pub fn strip_password(input: &str) -> Result<String, ParseError> {
        let parsed = ConnectionSettings::parse(input)?;
        let s = input.trim();
        if let Some(start) = url_scheme_end(s).map(|i| i + 3) {
            let rest = &s[start..];
            let (userinfo, after) = match rest.rfind('@') {
                Some(at) => {
                    // A key pasted where the user name goes was read as the password: drop
                    // it too.
                    let user = match parsed.settings.user {
                        Some(_) => rest[..at].split(':').next().unwrap_or(""),
                        None => "",
                    };
                    let kept = if user.is_empty() {
                        String::new()
                    } else {
                        format!("{user}@")
                    };
                    (kept, &rest[at + 1..])
                }
                None => (String::new(), rest),
            };
            // `?password=…` is not understood (and ignored), but never kept either.
            let after = match after.split_once('?') {
                Some((base, query)) => {
                    let kept: Vec<&str> = query
                        .split('&')
                        .filter(|p| {
                            !p.split('=')
                                .next()
                                .unwrap_or("")
                                .eq_ignore_ascii_case("password")
                        })
                        .collect();
                    if kept.iter().all(|p| p.is_empty()) {
                        base.to_string()
                    } else {
                        format!("{base}?{}", kept.join("&"))
                    }
                }
                None => after.to_string(),
            };
            return Ok(format!("{}{userinfo}{after}", &s[..start]));
        }
        if parsed.settings.password.is_none() {
            return Ok(s.to_string());
        }
        let kept: Vec<&str> = s
            .split(',')
            .filter(|part| {
                part.split_once('=')
                    .is_none_or(|(key, _)| !key.trim().eq_ignore_ascii_case("password"))
            })
            .collect();
        Ok(kept.join(","))
    }

    /// `host:port`, with brackets around IPv6 addresses.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A `redis://` / `rediss://` URL for these settings. With `with_password` false the
    /// password is left out, which makes the result safe to store and show.
    pub fn to_url(&self, with_password: bool) -> String {
        let mut scheme = String::from(if self.tls { "rediss" } else { "redis" });
        let mut hosts = self.addr();
        let mut path = String::new();
        if let ServerKind::Sentinel { service, sentinels } = &self.kind {
            scheme.push_str("+sentinel");
            hosts = sentinels
                .iter()
                .map(|(h, p)| self.at(h.as_str(), *p).addr())
                .collect::<Vec<_>>()
                .join(",");
            path = format!("/{}", utf8_percent_encode(service, USERINFO));
        }
        let user = self
            .user
            .as_deref()
            .map(|u| utf8_percent_encode(u, USERINFO).to_string());
        let password = self
            .password
            .as_ref()
            .filter(|_| with_password)
            .map(|p| utf8_percent_encode(p.expose(), USERINFO).to_string());
        let userinfo = match (user, password) {
            (Some(u), Some(p)) => format!("{u}:{p}@"),
            (Some(u), None) => format!("{u}@"),
            (None, Some(p)) => format!(":{p}@"),
            (None, None) => String::new(),
        };
        if self.db != 0 {
            path.push_str(&format!("/{}", self.db));
        }
        let mut query = Vec::new();
        if let Some(name) = &self.tls_options.server_name
            && self.tls
        {
            query.push(format!("sslHost={}", utf8_percent_encode(name, USERINFO)));
        }
        if self.kind == ServerKind::Cluster {
            query.push("cluster=true".into());
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        format!("{scheme}://{userinfo}{hosts}{path}{query}")
    }

    /// The password is about to cross the network unencrypted: plain TCP to a host that is
    /// not this computer. The window asks the user to acknowledge this once per server.
    pub fn password_in_clear(&self) -> bool {
        self.password.is_some() && !self.tls && !is_loopback(&self.host)
    }

    /// redis-rs connection info speaking `protocol`: RESP3, which push-based pub/sub needs,
    /// or RESP2 (the doctor's second try when RESP3 fails).
    pub(crate) fn connection_info_speaking(
        &self,
        protocol: redis::ProtocolVersion,
    ) -> redis::RedisResult<redis::ConnectionInfo> {
        use redis::IntoConnectionInfo;
        let addr = if self.tls {
            // With a server-name override the name is what TLS checks; the connection still
            // goes to `host` (see `crate::tls::Redirect`).
            redis::ConnectionAddr::TcpTls {
                host: self
                    .tls_options
                    .server_name
                    .clone()
                    .unwrap_or_else(|| self.host.clone()),
                port: self.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(self.host.clone(), self.port)
        };
        let mut redis_info = redis::RedisConnectionInfo::default()
            .set_protocol(protocol)
            .set_db(self.db)
            .set_lib_name("redchat", env!("CARGO_PKG_VERSION"));
        if let Some(user) = &self.user {
            redis_info = redis_info.set_username(user);
        }
        if let Some(password) = &self.password {
            redis_info = redis_info.set_password(password.expose());
        }
        // Keepalive probes notice a dead peer even when we are not writing; the user timeout
        // bounds how long unacknowledged data may sit on a black-holed link.
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(10))
            .with_interval(std::time::Duration::from_secs(5))
            .with_retries(3);
        let tcp = redis::io::tcp::TcpSettings::default()
            .set_nodelay(true)
            .set_keepalive(keepalive);
        // TCP_USER_TIMEOUT is Linux's (redis-rs offers it nowhere else); elsewhere the
        // heartbeat PING alone notices a black-holed link.
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        let tcp = tcp.set_user_timeout(std::time::Duration::from_secs(20));
        Ok(addr
            .into_connection_info()?
            .set_redis_settings(redis_info)
            .set_tcp_settings(tcp))
    }
}

/// Where the scheme of a URL ends (the index of "://"). A scheme is letters (and + . -)
/// before "://"; a "://" later on (inside a password of the StackExchange form) does not make
/// a URL, and is never quoted back.
fn url_scheme_end(s: &str) -> Option<usize> {
    s.find("://").filter(|&i| {
        i > 0
            && s[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// `localhost`, `127.0.0.0/8` and `::1`: traffic that never leaves this computer.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL user part that is really an access key pasted where a user name goes: one word of
/// standard base64 or hex, 32 characters or more with digits and letters mixed, or ending in
/// `=` (ACL user names are words; UUIDs and service names have '-' or '_').
fn looks_like_a_key(user: &str) -> bool {
    // Standard base64 and hex: no '-' or '_' (which UUIDs and service names have).
    let base64ish = user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    let digits = user.chars().filter(char::is_ascii_digit).count();
    let letters = user.chars().filter(char::is_ascii_alphabetic).count();
    base64ish && ((user.len() >= 32 && digits >= 2 && letters >= 2) || user.ends_with('='))
}

/// Character index (0-based) of byte offset `byte` in `s`.
fn char_pos(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

fn parse_url(s: &str, start: usize, tls: bool, sentinel: bool) -> Result<Parsed, ParseError> {
    let mut notes = Vec::new();
    // The user info ends at the last '@': passwords and keys pasted unencoded may hold '/',
    // '?' or '@' (half of Azure's keys have a '/'), so it is split off before the path and
    // query, and no error below ever quotes it.
    let (userinfo, after, after_start) = match s[start..].rfind('@') {
        Some(at) => (
            Some(&s[start..start + at]),
            &s[start + at + 1..],
            start + at + 1,
        ),
        None => (None, &s[start..], start),
    };
    // Split off ?query and /db; the host part never contains '/' or '?'.
    let (before_query, query) = match after.find('?') {
        Some(q) => (&after[..q], Some((after_start + q + 1, &after[q + 1..]))),
        None => (after, None),
    };
    let (hostport, path) = match before_query.find('/') {
        Some(p) => (
            &before_query[..p],
            Some((after_start + p + 1, &before_query[p + 1..])),
        ),
        None => (before_query, None),
    };
    let host_start = after_start;
    let mut settings = if sentinel {
        let mut sentinels = Vec::new();
        let mut at = host_start;
        for part in hostport.split(',') {
            if !part.trim().is_empty() {
                sentinels.push(parse_endpoint(part.trim(), char_pos(s, at), SENTINEL_PORT)?);
            }
            at += part.len() + 1;
        }
        let Some((host, port)) = sentinels.first().cloned() else {
            return fail(
                char_pos(s, host_start),
                "no sentinel given: redis+sentinel://host:26379[,host2:26379]/SERVICE",
            );
        };
        let mut settings = ConnectionSettings::new(host, port);
        settings.kind = ServerKind::Sentinel {
            service: String::new(),
            sentinels,
        };
        settings
    } else {
        let (host, port) = parse_endpoint(hostport, char_pos(s, host_start), 6379)?;
        ConnectionSettings::new(host, port)
    };
    settings.tls = tls;
    if let Some(info) = userinfo {
        let decode = |part: &str, what: &str| -> Result<String, ParseError> {
            percent_decode_str(part)
                .decode_utf8()
                .map(|c| c.into_owned())
                .or_else(|_| {
                    fail(
                        char_pos(s, start),
                        format!("the {what} is not valid UTF-8 after percent-decoding"),
                    )
                })
        };
        match info.split_once(':') {
            Some((user, password)) => {
                if !user.is_empty() {
                    settings.user = Some(decode(user, "user name")?);
                }
                if !password.is_empty() {
                    settings.password = Some(Secret(decode(password, "password")?));
                }
            }
            None if !info.is_empty() => {
                let only = decode(info, "user name")?;
                if looks_like_a_key(&only) {
                    notes.push(
                        "the part before \"@\" looks like an access key, so it is used as the password; for an ACL user write user:password@".into(),
                    );
                    settings.password = Some(Secret(only));
                } else {
                    settings.user = Some(only);
                }
            }
            None => {}
        }
    }
    // redis+sentinel://…/SERVICE[/db]: the first path segment names the master.
    let path = match (&mut settings.kind, path) {
        (ServerKind::Sentinel { service, .. }, Some((at, p))) => {
            let (name, rest) = match p.split_once('/') {
                Some((name, rest)) => (name, Some((at + name.len() + 1, rest))),
                None => (p, None),
            };
            *service = check_service(
                &percent_decode_str(name).decode_utf8_lossy(),
                char_pos(s, at),
            )?;
            rest
        }
        (ServerKind::Sentinel { .. }, None) => {
            return fail(
                char_pos(s, after_start + before_query.len()),
                "a Sentinel URL names the master after the hosts: redis+sentinel://host:26379/SERVICE",
            );
        }
        (_, path) => path,
    };
    if let Some((at, db)) = path
        && !db.is_empty()
    {
        settings.db = db.parse::<i64>().ok().filter(|d| *d >= 0).map_or_else(
            || {
                fail(
                    char_pos(s, at),
                    format!("database \"{db}\" is not a number"),
                )
            },
            Ok,
        )?;
    }
    if let Some((_, query)) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let key = pair.split('=').next().unwrap_or(pair);
            match key.to_ascii_lowercase().as_str() {
                // RESP3 is always used; accept the parameter redis-rs users add by habit.
                "protocol" => {}
                "cluster" => {
                    let value = pair.split_once('=').map_or("true", |(_, v)| v);
                    if parse_bool(value, char_pos(s, start), "cluster")? {
                        if matches!(settings.kind, ServerKind::Sentinel { .. }) {
                            return fail(
                                char_pos(s, start),
                                "cluster=true and Sentinel do not go together: a Sentinel watches one master",
                            );
                        }
                        settings.kind = ServerKind::Cluster;
                    }
                }
                "sslhost" => {
                    let value = pair.split_once('=').map_or("", |(_, v)| v);
                    let name = percent_decode_str(value)
                        .decode_utf8_lossy()
                        .trim()
                        .to_string();
                    settings.tls_options.server_name =
                        Some(check_server_name(&name, char_pos(s, start))?);
                }
                _ => notes.push(format!("ignored URL parameter \"{key}\"")),
            }
        }
    }
    Ok(Parsed { settings, notes })
}

fn parse_stackexchange(s: &str) -> Result<Parsed, ParseError> {
    let mut notes = Vec::new();
    let mut endpoints: Vec<(usize, &str)> = Vec::new();
    let mut tls = false;
    let mut user = None;
    let mut password = None;
    let mut server_name = None;
    let mut db = 0;
    let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    let mut response_timeout = DEFAULT_RESPONSE_TIMEOUT;
    let mut service = None;
    let mut cluster = false;
    let mut offset = 0;
    for part in s.split(',') {
        let at = offset;
        offset += part.len() + 1;
        let trimmed = part.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            endpoints.push((at + (part.len() - part.trim_start().len()), trimmed));
            continue;
        };
        let value_at = char_pos(s, at + part.find('=').unwrap_or(0) + 1);
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "password" => password = Some(Secret(value.to_string())),
            "user" => user = Some(value.to_string()).filter(|u| !u.is_empty()),
            "ssl" => tls = parse_bool(value, value_at, "ssl")?,
            "sslhost" => server_name = Some(check_server_name(value, value_at)?),
            "defaultdatabase" => {
                db = value.parse::<i64>().ok().filter(|d| *d >= 0).map_or_else(
                    || {
                        fail(
                            value_at,
                            format!("defaultDatabase \"{value}\" is not a number"),
                        )
                    },
                    Ok,
                )?;
            }
            "connecttimeout" => connect_timeout = parse_millis(value, value_at, "connectTimeout")?,
            "synctimeout" => response_timeout = parse_millis(value, value_at, "syncTimeout")?,
            "abortconnect" => {
                parse_bool(value, value_at, "abortConnect")?;
            }
            "servicename" => service = Some(check_service(value, value_at)?),
            "cluster" => cluster = parse_bool(value, value_at, "cluster")?,
            "" => return fail(char_pos(s, at), "an option has no name before \"=\""),
            _ => notes.push(format!("ignored option \"{}\"", key.trim())),
        }
    }
    let Some(&(ep_at, endpoint)) = endpoints.first() else {
        return fail(
            0,
            "no host given: start with host:port, e.g. name.redis.cache.windows.net:6380",
        );
    };
    let kind = match service {
        Some(service) => {
            if cluster {
                return fail(
                    0,
                    "cluster=true and serviceName do not go together: a Sentinel watches one master",
                );
            }
            // Every endpoint is a sentinel.
            let sentinels = endpoints
                .iter()
                .map(|&(at, e)| parse_endpoint(e, char_pos(s, at), SENTINEL_PORT))
                .collect::<Result<Vec<_>, _>>()?;
            ServerKind::Sentinel { service, sentinels }
        }
        None => {
            if endpoints.len() > 1 {
                notes.push(format!(
                    "only the first endpoint is used; ignored {}",
                    endpoints.len() - 1
                ));
            }
            if cluster {
                ServerKind::Cluster
            } else {
                ServerKind::Auto
            }
        }
    };
    // StackExchange.Redis defaults the port to 6380 when ssl=True.
    let default_port = match (&kind, tls) {
        (ServerKind::Sentinel { .. }, _) => SENTINEL_PORT,
        (_, true) => 6380,
        (_, false) => 6379,
    };
    let (host, port) = parse_endpoint(endpoint, char_pos(s, ep_at), default_port)?;
    let settings = ConnectionSettings {
        host,
        port,
        tls,
        tls_options: TlsOptions {
            server_name,
            ..TlsOptions::default()
        },
        user,
        password,
        db,
        connect_timeout,
        response_timeout,
        kind,
    };
    Ok(Parsed { settings, notes })
}

fn check_server_name(name: &str, at: usize) -> Result<String, ParseError> {
    if name.is_empty() {
        return fail(
            at,
            "sslHost needs a host name, e.g. sslHost=cache.example.com",
        );
    }
    if rustls::pki_types::ServerName::try_from(name).is_err() {
        return fail(at, format!("sslHost \"{name}\" is not a host name"));
    }
    Ok(name.to_string())
}

/// A Sentinel service (master) name: what `sentinel monitor` was given.
fn check_service(name: &str, at: usize) -> Result<String, ParseError> {
    let name = name.trim();
    if name.is_empty() {
        return fail(
            at,
            "the Sentinel service name is empty (the name in `sentinel monitor NAME …`)",
        );
    }
    if let Some(bad) = name.find(|c: char| c.is_whitespace() || c.is_control()) {
        return fail(
            at + char_pos(name, bad),
            "a Sentinel service name has no spaces",
        );
    }
    Ok(name.to_string())
}

fn parse_bool(value: &str, at: usize, name: &str) -> Result<bool, ParseError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => fail(at, format!("{name} must be True or False, not \"{value}\"")),
    }
}

fn parse_millis(value: &str, at: usize, name: &str) -> Result<Duration, ParseError> {
    match value.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => fail(
            at,
            format!("{name} must be a positive number of milliseconds, not \"{value}\""),
        ),
    }
}

/// Parses `host[:port]` or `[v6]:port`. `at` is the character position of `s` in the input.
fn parse_endpoint(s: &str, at: usize, default_port: u16) -> Result<(String, u16), ParseError> {
    let (host, port_part, port_at) = if let Some(v6) = s.strip_prefix('[') {
        let Some(end) = v6.find(']') else {
            return fail(at, "missing \"]\" after the IPv6 address");
        };
        let after = &v6[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return fail(at + end + 2, "expected \":port\" after \"]\""),
        };
        (&v6[..end], port, at + end + 3)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return fail(
                    at,
                    "IPv6 addresses must be written in brackets, e.g. [::1]:6379",
                );
            }
            Some((h, p)) => (h, Some(p), at + h.chars().count() + 1),
            None => (s, None, at),
        }
    };
    if host.is_empty() {
        return fail(at, "the host name is empty");
    }
    if let Some(bad) = host.find(|c: char| c.is_whitespace() || "/@?#,=\\\"'<>".contains(c)) {
        let c = host[bad..].chars().next().unwrap_or(' ');
        return fail(
            at + char_pos(host, bad),
            format!("\"{c}\" is not allowed in a host name"),
        );
    }
    let port = match port_part {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return fail(
                    port_at,
                    format!("port \"{p}\" must be a number from 1 to 65535"),
                );
            }
        },
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
