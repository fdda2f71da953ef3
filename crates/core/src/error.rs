//! The core's error type. Callers decide with predicates and [`Error::code`], never by
//! parsing message text.

use std::time::Duration;

use crate::settings::ParseError;
use crate::username::UsernameError;

/// The closed set of error codes that cross to the UI (`ui/src/ipc.ts` mirrors it). Only
/// codes a consumer uses are listed; the shell adds none of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// A connection string that does not parse.
    InvalidSettings,
    /// A username breaking the rule.
    InvalidUsername,
    /// A room or channel name breaking the rule.
    InvalidRoom,
    /// A line that is not a message.
    InvalidMessage,
    /// A body over the limit.
    MessageTooLarge,
    /// Credentials refused.
    Auth,
    /// The Redis (ACL) user may not run a command or use a key or channel Redchat needs.
    Forbidden,
    /// The server needs a password and none is at hand (shell).
    PasswordRequired,
    /// The password would cross the network unencrypted; the user must acknowledge it once
    /// per server (shell).
    PlaintextPassword,
    /// Nothing answers at the address.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// TLS problems.
    Tls,
    /// The server lacks RESP3 or streams.
    UnsupportedServer,
    /// No session, or the link is down.
    NotConnected,
    /// Any other Redis error.
    Redis,
    /// The settings store could not be written (shell).
    SettingsStore,
    /// The outbox or cursor files.
    Storage,
    /// The identity key is damaged or cannot be imported.
    Identity,
    /// A search or export that cannot run (its text says why).
    InvalidSearch,
    /// Another Redchat already runs as this user on this data directory.
    AlreadyRunning,
    /// A bug.
    Internal,
}

impl Code {
    /// The snake_case text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidSettings => "invalid_settings",
            Code::InvalidUsername => "invalid_username",
            Code::InvalidRoom => "invalid_room",
            Code::InvalidMessage => "invalid_message",
            Code::MessageTooLarge => "message_too_large",
            Code::Auth => "auth",
            Code::Forbidden => "forbidden",
            Code::PasswordRequired => "password_required",
            Code::PlaintextPassword => "plaintext_password",
            Code::Unreachable => "unreachable",
            Code::Timeout => "timeout",
            Code::Tls => "tls",
            Code::UnsupportedServer => "unsupported_server",
            Code::NotConnected => "not_connected",
            Code::Redis => "redis",
            Code::SettingsStore => "settings_store",
            Code::Storage => "storage",
            Code::Identity => "identity",
            Code::InvalidSearch => "invalid_search",
            Code::AlreadyRunning => "already_running",
            Code::Internal => "internal",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

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
    /// A room or channel name breaks the naming rule.
    #[error("{0}")]
    InvalidRoom(String),
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
    /// The Redis user (ACL) may not do something Redchat needs: not a wrong password.
    #[error("your Redis user may not {0}")]
    Forbidden(String),
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
    /// A key holds another type of value than Redchat keeps there (a mistake, or a hostile
    /// write by another user of the same Redis).
    #[error("{} holds another type of value ({detail}); ask an admin to fix or delete it", key.as_deref().unwrap_or("a key"))]
    WrongType {
        /// The key, when known.
        key: Option<String>,
        /// What Redis said.
        detail: String,
    },
    /// Any other error reported by Redis.
    #[error("redis error: {0}")]
    Redis(String),
    /// The outbox or inbox cursor could not be read or written on this computer.
    #[error("local storage problem: {0}")]
    Storage(String),
    /// The identity key is damaged or not an identity.
    #[error("identity key problem: {0}")]
    Identity(String),
    /// A search (or export) request that cannot run: says why, in plain words.
    #[error("{0}")]
    InvalidSearch(String),
    /// Another Redchat (window or CLI) already runs as this user with this data directory.
    #[error(
        "Redchat is already running as this user on this computer ({0}); close it first, or use another data directory"
    )]
    AlreadyRunning(String),
}

impl Error {
    /// A stable machine-readable code, mirrored by the UI (`ui/src/ipc.ts`).
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidSettings(_) => Code::InvalidSettings,
            Error::InvalidUsername(_) => Code::InvalidUsername,
            Error::InvalidRoom(_) => Code::InvalidRoom,
            Error::InvalidMessage(_) => Code::InvalidMessage,
            Error::MessageTooLarge { .. } => Code::MessageTooLarge,
            Error::Auth(_) => Code::Auth,
            Error::Forbidden(_) => Code::Forbidden,
            Error::Unreachable { .. } => Code::Unreachable,
            Error::Timeout { .. } => Code::Timeout,
            Error::Tls { .. } => Code::Tls,
            Error::UnsupportedServer(_) => Code::UnsupportedServer,
            Error::NotConnected => Code::NotConnected,
            Error::Redis(_) | Error::WrongType { .. } => Code::Redis,
            Error::Storage(_) => Code::Storage,
            Error::InvalidSearch(_) => Code::InvalidSearch,
            Error::Identity(_) => Code::Identity,
            Error::AlreadyRunning(_) => Code::AlreadyRunning,
        }
    }

    /// A finer code for connection problems, as the doctor reports them (`auth`, `forbidden`,
    /// `refused`, `unknown_host`, `timeout`, `tls_required`, `not_tls`, `tls_untrusted`,
    /// `tls_name`, `tls_client_cert`, `tls_client_cert_refused`, `tls_expired`, `tls_files`,
    /// `no_resp3`, `not_redis`, …); the details come from this module, so they are matched here.
    pub fn problem_code(&self) -> &'static str {
        match self {
            Error::Unreachable { detail, .. } if detail.contains("refused") => "refused",
            Error::Unreachable { detail, .. } if detail.contains("not found") => "unknown_host",
            Error::Tls { detail, .. } => {
                // By how this module's sentences start (never by what they quote: paths,
                // rustls' words).
                let d = detail.as_str();
                let starts = |p: &str| d.starts_with(p);
                if starts("the server closed the connection during the handshake") {
                    "tls_required"
                } else if starts("the server does not speak TLS")
                    || starts("the TLS handshake got no answer")
                {
                    "not_tls"
                } else if starts("the server requires a client certificate") {
                    "tls_client_cert"
                } else if starts("the server refused the client certificate") {
                    "tls_client_cert_refused"
                } else if starts("the server's certificate is for another host name") {
                    "tls_name"
                } else if starts("the server's certificate is expired") {
                    "tls_expired"
                } else if starts("the server's certificate is not trusted") {
                    "tls_untrusted"
                } else {
                    "tls_files"
                }
            }
            Error::UnsupportedServer(d) if d.contains("RESP3") => "no_resp3",
            Error::UnsupportedServer(d) if d.contains("protocol") => "not_redis",
            other => other.code().as_str(),
        }
    }

    /// Names `key` in a [`Error::WrongType`] (other errors are returned as they are).
    pub(crate) fn about_key(self, key: &str) -> Error {
        match self {
            Error::WrongType { key: None, detail } => Error::WrongType {
                key: Some(key.to_string()),
                detail,
            },
            other => other,
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
                | Error::InvalidRoom(_)
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
                .is_some_and(|c| matches!(c, "WRONGPASS" | "NOAUTH"))
            || lower.contains("invalid username-password")
            || lower.contains("wrongpass")
            || lower.contains("noauth")
        {
            return Error::Auth(
                "the server refused the username/password; check the password (Azure: the access key)"
                    .into(),
            );
        }
        if redis_refusal::is_wrong_type(err) {
            return Error::WrongType {
                key: None,
                detail: text,
            };
        }
        if redis_refusal::is_stream_exhausted(err) {
            return Error::Redis(
                "the recipient's stream cannot take new messages: someone wrote the largest possible entry id into it; the owner (or an admin) must delete that key".into(),
            );
        }
        if err.code() == Some("NOPERM") || text.contains("NOPERM") {
            // An ACL that forbids a command or key: not a wrong password.
            return Error::Forbidden(forbidden_detail(&text));
        }
        if err.kind() == ErrorKind::RESP3NotSupported || lower.contains("unknown command 'hello'") {
            return Error::UnsupportedServer(
                "the server does not speak RESP3 (Redis 6 or later, or Valkey, is required)".into(),
            );
        }
        if tls && is_tls_text(&lower) {
            return Error::Tls {
                addr,
                detail: tls_detail(&text, &lower),
            };
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

/// "run the 'config|get' command" / "use one of the keys ..." from Redis' NOPERM text, with
/// what Redis said and the fix.
fn forbidden_detail(text: &str) -> String {
    let what = if let Some(i) = text.find("run the '") {
        let rest = &text[i + 9..];
        let cmd = rest.split('\'').next().unwrap_or(rest);
        format!("run {}", cmd.replace('|', " ").to_ascii_uppercase())
    } else if text.contains("channel") {
        "use a pub/sub channel Redchat needs".into()
    } else if text.contains("key") {
        "use a key Redchat needs".into()
    } else {
        "do something Redchat needs".into()
    };
    format!(
        "{what} (NOPERM: {}); ask the Redis admin to apply `redchat-cli admin acl <user>`, or run `redchat-cli doctor` to see every command it lacks",
        text.trim()
    )
}

/// What a TLS failure means, and the fix, from rustls' words.
fn tls_detail(text: &str, lower: &str) -> String {
    if lower.contains("certificaterequired") || lower.contains("certificate required") {
        "the server requires a client certificate: give one with its key (Settings › TLS (company servers) › client certificate and key; CLI: --tls-cert FILE --tls-key FILE)".into()
    } else if lower.contains("not valid for name") || lower.contains("notvalidforname") {
        format!(
            "the server's certificate is for another host name ({text}): connect with a name it is valid for, or add sslHost=NAME to the connection string"
        )
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        "the server's certificate is not trusted: it is signed by a CA this computer does not trust; give that CA's certificate (Settings › TLS (company servers) › CA certificate file; CLI: --tls-ca FILE)".into()
    } else if lower.contains("expired") || lower.contains("notvalidyet") {
        format!(
            "the server's certificate is expired or not yet valid ({text}); check this computer's clock, or ask the admin to renew it"
        )
    } else if lower.contains("unknownca")
        || lower.contains("badcertificate")
        || lower.contains("bad certificate")
        || lower.contains("decrypterror")
    {
        format!(
            "the server refused the client certificate ({text}): it is not signed by a CA the server trusts"
        )
    } else if lower.contains("certificate") {
        format!("the server's certificate is not trusted ({text})")
    } else {
        "the server does not speak TLS on this port: use redis:// or ssl=False, or the TLS port (Azure: 6380)".into()
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

/// How a Redis refusal should be treated. The one place foreign errors are classified.
pub(crate) mod redis_refusal {
    /// Refusals that will not pass by waiting: the key has another type, the ACL user may not
    /// run the command or touch the key, the server lacks the command (no streams).
    pub fn is_permanent(e: &redis::RedisError) -> bool {
        has_code(e, &["WRONGTYPE", "NOPERM", "NOAUTH", "WRONGPASS"]) || is_stream_exhausted(e)
    }

    /// XADD refused: the stream's last id is the largest possible one (a hostile write).
    pub fn is_stream_exhausted(e: &redis::RedisError) -> bool {
        e.to_string().contains("exhausted the last possible ID")
    }

    /// Refusals that stop a stream reader for good: it may not read, or the server has no
    /// streams. (A key of another type may be fixed by an admin: see [`is_wrong_type`].)
    pub fn is_forbidden(e: &redis::RedisError) -> bool {
        has_code(e, &["NOPERM", "NOAUTH", "WRONGPASS"])
    }

    /// A key holds another type than the command needs (hostile or mistaken writes).
    pub fn is_wrong_type(e: &redis::RedisError) -> bool {
        e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE")
    }

    /// The link itself failed (I/O, dropped, timed out): reconnecting may help.
    pub fn is_link_failure(e: &redis::RedisError) -> bool {
        e.is_io_error() || e.is_connection_dropped() || e.is_timeout()
    }

    /// A short reason for the status line while reconnecting.
    pub fn reconnect_reason(e: &redis::RedisError, addr: &str, tls: bool) -> String {
        if e.is_connection_refusal() {
            "connection refused".into()
        } else if e.is_timeout() {
            "no answer from the server".into()
        } else if e.is_connection_dropped() || e.is_io_error() {
            format!("connection failed ({e})")
        } else {
            super::Error::from_redis(e, addr, tls).to_string()
        }
    }

    /// The error, or one of a pipeline's errors, has one of `codes` (or is an unknown
    /// command). A pipeline reports its commands' errors inside one error ("Pipeline failure:
    /// [(Index 0, error: \"WRONGTYPE\": ...)]"), so the text is searched too.
    fn has_code(e: &redis::RedisError, codes: &[&str]) -> bool {
        let upper = |c: &str| c.to_ascii_uppercase();
        let text = e.to_string();
        e.code().is_some_and(|c| codes.contains(&upper(c).as_str()))
            || e.clone().into_server_errors().is_some_and(|errors| {
                errors
                    .iter()
                    .any(|(_, err)| codes.contains(&upper(err.code()).as_str()))
            })
            || codes.iter().any(|c| {
                text.contains(&format!("\"{c}\""))
                    || text.to_ascii_uppercase().contains(&format!("{c}:"))
            })
            || text.contains("unknown command")
    }
}
