//! What a session is started with ([`SessionConfig`]) and what every task reads from it
//! ([`Setup`], immutable once the session runs).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::identity::{Identity, KeyStorage};
use crate::keys::Keys;
use crate::settings::ConnectionSettings;
use crate::username::{Namespace, Username};

/// Default heartbeat period (PING on the main link).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);
/// Default longest wait between reconnect attempts.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Default approximate length limit of each stream (`XADD MAXLEN ~`).
pub const DEFAULT_STREAM_MAX_LEN: u64 = 10_000;
/// How often an online client refreshes its presence.
pub const DEFAULT_PRESENCE_BEAT: Duration = Duration::from_secs(5);
/// How long a presence refresh holds: a crashed client shows offline at most this long
/// after its last refresh (plus one poll period of the viewer).
pub const PRESENCE_TTL: Duration = Duration::from_secs(15);

/// How messages are delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    /// PUBLISH for whoever is listening now, and XADD to the conversation's stream (the
    /// recipient's inbox, the room's stream) so that whoever is offline gets it on their
    /// next connect. Inbox and history are read from streams.
    #[default]
    Durable,
    /// PUBLISH only, exactly like the original client: nobody listening means the message is gone.
    LiveOnly,
}

/// Everything needed to start a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to connect.
    pub settings: ConnectionSettings,
    /// Who we are; our inbox is `namespace + user`.
    pub user: Username,
    /// Prefix of channels and keys (empty by default, like the original client).
    pub namespace: Namespace,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Raw channels to listen on besides what the user joined, e.g. the original console
    /// client's shared `messages` channel (not saved as joined).
    pub extra_channels: Vec<String>,
    /// Durable (default) or live-only delivery.
    pub delivery: Delivery,
    /// Where the outbox and the stream cursors are kept (per server + user below it).
    /// `None`: in memory only, lost when the process ends.
    pub data_dir: Option<PathBuf>,
    /// Longest wait between reconnect attempts.
    pub max_retry_delay: Duration,
    /// Approximate length limit of the streams.
    pub stream_max_len: u64,
    /// When the first connection fails for a reason that may pass (unreachable, timeout),
    /// start anyway and keep trying, instead of returning the error.
    pub keep_trying: bool,
    /// Tell others when we are online (heartbeat key, directory). Off: we look offline and
    /// write no presence keys; we still see others.
    pub share_presence: bool,
    /// How often presence is refreshed and others' presence is looked at.
    pub presence_beat: Duration,
    /// How often a stream left out as unreadable (another type, refused) is tried again
    /// while the others are read.
    pub stream_retry: Duration,
    /// Our identity key and where it is kept. `None`: loaded from (or created in)
    /// `identity.key` in the session's data directory (in memory without one).
    pub identity: Option<(Arc<Identity>, KeyStorage)>,
}

impl SessionConfig {
    /// A config with the defaults: durable, in-memory outbox, fail fast on the first
    /// connect, presence shared.
    pub fn new(settings: ConnectionSettings, user: Username) -> Self {
        SessionConfig {
            settings,
            user,
            namespace: Namespace::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            extra_channels: Vec::new(),
            delivery: Delivery::Durable,
            data_dir: None,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            stream_max_len: DEFAULT_STREAM_MAX_LEN,
            keep_trying: false,
            share_presence: true,
            presence_beat: DEFAULT_PRESENCE_BEAT,
            stream_retry: super::readers::READ_BACKOFF_CAP,
            identity: None,
        }
    }
}

/// The immutable part every task reads: who we are, names, limits.
#[derive(Debug)]
pub(crate) struct Setup {
    pub user: Username,
    pub keys: Keys,
    /// `host:port`.
    pub addr: String,
    pub tls: bool,
    pub delivery: Delivery,
    pub heartbeat: Duration,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub max_retry_delay: Duration,
    pub stream_max_len: u64,
    pub share_presence: bool,
    pub presence_beat: Duration,
    pub stream_retry: Duration,
    /// This device's id (presence); new per session.
    pub device: String,
    pub extra_channels: Vec<String>,
    /// Our identity: signs what we send, tells our messages from claims to be us.
    pub identity: Arc<Identity>,
    pub key_storage: KeyStorage,
    /// Sends connections to the real host when TLS checks another name (`sslHost`).
    pub redirect: Option<crate::tls::Redirect>,
    /// Behind Sentinel: a write counts as stored once a replica has it too (`WAIT`), so a
    /// failover does not lose what we were told was stored.
    pub replicated: bool,
    /// On a cluster the reader does not block (a blocked read would hold a node's shared
    /// connection): a live message arriving wakes it to read the streams.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Setup {
    pub fn new(config: &SessionConfig, identity: Arc<Identity>, key_storage: KeyStorage) -> Setup {
        Setup {
            identity,
            key_storage,
            user: config.user.clone(),
            keys: Keys::new(&config.namespace),
            addr: config.settings.addr(),
            tls: config.settings.tls,
            delivery: config.delivery,
            heartbeat: config.heartbeat,
            connect_timeout: config.settings.connect_timeout,
            response_timeout: config.settings.response_timeout,
            max_retry_delay: config
                .max_retry_delay
                .max(super::backoff::FIRST_RETRY_DELAY),
            stream_max_len: config.stream_max_len,
            share_presence: config.share_presence,
            presence_beat: config.presence_beat,
            stream_retry: config.stream_retry,
            device: crate::wire::new_id(),
            extra_channels: config.extra_channels.clone(),
            // Behind Sentinel the master's host is only known later: no sslHost redirect.
            redirect: match config.settings.sentinel() {
                Some(_) => None,
                None => crate::tls::Redirect::of(&config.settings),
            },
            replicated: config.settings.sentinel().is_some(),
            wake: std::sync::Arc::default(),
        }
    }

    /// A connection config with the server-name redirect, if any.
    pub fn connection_config(&self) -> redis::AsyncConnectionConfig {
        let config = redis::AsyncConnectionConfig::new();
        match &self.redirect {
            Some(r) => config.set_dns_resolver(r.clone()),
            None => config,
        }
    }

    pub fn durable(&self) -> bool {
        self.delivery == Delivery::Durable
    }

    /// Our inbox channel.
    pub fn inbox(&self) -> String {
        self.keys.inbox_channel(&self.user)
    }

    /// A response timeout error for `addr`.
    pub fn timeout(&self, after: Duration) -> crate::Error {
        crate::Error::Timeout {
            addr: self.addr.clone(),
            after,
        }
    }

    pub fn redis_error(&self, e: &redis::RedisError) -> crate::Error {
        crate::Error::from_redis(e, &self.addr, self.tls)
    }
}
