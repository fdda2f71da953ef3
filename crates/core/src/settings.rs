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

mod parse;
pub use parse::is_loopback;
use parse::*;

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

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
