//! The core's error type. Callers decide with predicates and [`Error::code`], never by
//! parsing message text.

use std::time::Duration;

use crate::settings::ParseError;
use crate::username::UsernameError;

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a typed connection string and a delivered message.
///
/// Messages are written for the person at the keyboard: they say what happened and, where we
/// can tell, what to change. They never contain the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string could not be parsed.
    #[error("invalid connection string: {0}")]
    InvalidSettings(#[from] ParseError),
    /// The username (or a recipient's name) breaks the username rule.
    #[error("{0}")]
    InvalidUsername(#[from] UsernameError),
    /// A typed line could not be turned into a message.
    #[error("{0}")]
    InvalidMessage(String),
    /// The message body is larger than [`crate::MAX_CONTENT_BYTES`].
    #[error("message is {size} bytes; the limit is {limit} bytes")]
    MessageTooLarge {
        /// Size of the refused body in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The server refused the username/password.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Nothing answered at the address (refused, DNS failure, network unreachable).
    #[error("cannot reach {addr}: {detail}")]
    Unreachable {
        /// `host:port` we tried.
        addr: String,
        /// What the operating system said.
        detail: String,
    },
    /// The server did not answer in time.
    #[error("no answer from {addr} within {}s", after.as_secs_f32())]
    Timeout {
        /// `host:port` we tried.
        addr: String,
        /// How long we waited.
        after: Duration,
    },
    /// TLS could not be negotiated: certificate problems, or TLS on one side only.
    #[error("TLS problem with {addr}: {detail}")]
    Tls {
        /// `host:port` we tried.
        addr: String,
        /// What went wrong and what to try.
        detail: String,
    },
    /// The server lacks something Redchat needs (RESP3, Redis 6 or later).
    #[error("unsupported server: {0}")]
    UnsupportedServer(String),
    /// The session has been shut down or lost its task.
    #[error("not connected")]
    NotConnected,
    /// Any other error reported by Redis.
    #[error("redis error: {0}")]
    Redis(String),
    /// The outbox or inbox cursor could not be read or written on this computer.
    #[error("local storage problem: {0}")]
    Storage(String),
}

impl Error {
    /// A stable machine-readable code, mirrored by the UI (`ui/src/ipc.ts`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidSettings(_) => "invalid_settings",
            Error::InvalidUsername(_) => "invalid_username",
            Error::InvalidMessage(_) => "invalid_message",
            Error::MessageTooLarge { .. } => "message_too_large",
            Error::Auth(_) => "auth",
            Error::Unreachable { .. } => "unreachable",
            Error::Timeout { .. } => "timeout",
            Error::Tls { .. } => "tls",
            Error::UnsupportedServer(_) => "unsupported_server",
            Error::NotConnected => "not_connected",
            Error::Redis(_) => "redis",
            Error::Storage(_) => "storage",
        }
    }

    /// The server rejected our credentials: retrying without new ones is pointless.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth(_))
    }

    /// A later attempt with the same input may succeed (network trouble, timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::NotConnected
        )
    }

    /// The input was wrong (settings, username, message): fix it before retrying.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidSettings(_)
                | Error::InvalidUsername(_)
                | Error::InvalidMessage(_)
                | Error::MessageTooLarge { .. }
        )
    }

    /// Classifies a redis-rs error raised while talking to `addr`.
    ///
    /// `tls` says whether we spoke TLS: a connection closed during the handshake then means
    /// something different (see the `Tls` arm).
    pub(crate) fn from_redis(err: &redis::RedisError, addr: &str, tls: bool) -> Error {
        use redis::ErrorKind;
        let text = err.to_string();
        let lower = text.to_ascii_lowercase();
        let addr = addr.to_string();
        if err.kind() == ErrorKind::AuthenticationFailed
            || err
                .code()
                .is_some_and(|c| matches!(c, "WRONGPASS" | "NOAUTH" | "NOPERM"))
            || lower.contains("invalid username-password")
            || lower.contains("wrongpass")
            || lower.contains("noauth")
        {
            return Error::Auth(
                "the server refused the username/password; check the password (Azure: the access key)"
                    .into(),
            );
        }
        if err.kind() == ErrorKind::RESP3NotSupported || lower.contains("unknown command 'hello'") {
            return Error::UnsupportedServer(
                "the server does not speak RESP3 (Redis 6 or later, or Valkey, is required)".into(),
            );
        }
        if tls && is_tls_text(&lower) {
            let detail = if lower.contains("certificate") || lower.contains("unknownissuer") {
                format!("the server's certificate is not trusted ({text})")
            } else {
                "the server does not speak TLS on this port: use redis:// or ssl=False, or the TLS port (Azure: 6380)".into()
            };
            return Error::Tls { addr, detail };
        }
        if err.kind() == ErrorKind::Parse || lower.contains("parse error") {
            return Error::UnsupportedServer(format!(
                "the server at {addr} does not speak the Redis protocol (is that the right port?)"
            ));
        }
        if err.is_connection_refusal() || lower.contains("connection refused") {
            return Error::Unreachable {
                addr,
                detail: "connection refused: is redis-server running and is the port right?".into(),
            };
        }
        if !tls
            && (err.is_connection_dropped()
                || lower.contains("reset by peer")
                || lower.contains("broken pipe")
                || lower.contains("unexpected end"))
        {
            return Error::Tls {
                addr,
                detail: "the server closed the connection during the handshake; it probably requires TLS (use rediss:// or ssl=True)".into(),
            };
        }
        if lower.contains("failed to lookup")
            || lower.contains("name or service not known")
            || lower.contains("no such host")
            || lower.contains("dns")
        {
            return Error::Unreachable {
                addr,
                detail: "host name not found".into(),
            };
        }
        if err.is_io_error() {
            return Error::Unreachable { addr, detail: text };
        }
        Error::Redis(text)
    }
}

fn is_tls_text(lower: &str) -> bool {
    [
        "tls",
        "corrupt message",
        "invalidcontenttype",
        "certificate",
        "handshake",
        "alert",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}
