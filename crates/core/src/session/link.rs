//! Opening connections: the main link (RESP3, pushes, subscribed) and stream readers' own
//! connections, with first-attempt errors that say precisely what is wrong.

use std::time::Duration;

use redis::PushInfo;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::config::Setup;
use crate::error::{Error, Result, redis_refusal};
use crate::settings::ConnectionSettings;

/// Opens and closes a bare TCP connection, so that "nothing there" is told apart from "something
/// there that does not answer like Redis" (a TLS mismatch, a wrong port).
pub(crate) async fn reach(settings: &ConnectionSettings) -> Result<()> {
    let addr = settings.addr();
    let connect = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port));
    match tokio::time::timeout(settings.connect_timeout, connect).await {
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(Error::Timeout {
            addr,
            after: settings.connect_timeout,
        }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Error::Unreachable {
                addr,
                detail: "connection refused: is redis-server running and is the port right?".into(),
            })
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            let detail = if text.contains("lookup")
                || text.contains("not known")
                || text.contains("resolve")
            {
                format!("host name \"{}\" not found", settings.host)
            } else {
                text
            };
            Err(Error::Unreachable { addr, detail })
        }
    }
}

/// The TCP connection opened but the Redis handshake got no answer in time.
fn handshake_timeout(settings: &ConnectionSettings) -> Error {
    let addr = settings.addr();
    if settings.tls {
        Error::Tls {
            addr,
            detail: "the TLS handshake got no answer: the server does not speak TLS on this port (use redis:// or ssl=False, or the TLS port)".into(),
        }
    } else {
        Error::Timeout {
            addr,
            after: settings.connect_timeout,
        }
    }
}

pub(crate) type Link = (MultiplexedConnection, mpsc::UnboundedReceiver<PushInfo>);

/// The first connection, with errors that say precisely what is wrong.
pub(crate) async fn first_link(
    client: &redis::Client,
    setup: &Setup,
    channels: &[String],
    settings: &ConnectionSettings,
) -> Result<Link> {
    reach(settings).await?;
    let (mut conn, pushes) = open_main(client, setup, channels, settings.connect_timeout)
        .await
        .map_err(|e| match e {
            Opening::Timeout => handshake_timeout(settings),
            Opening::Failed(e) if e.is_timeout() => handshake_timeout(settings),
            Opening::Failed(e) => setup.redis_error(&e),
        })?;
    refuse_other_kinds(&mut conn).await?;
    Ok((conn, pushes))
}

/// A Cluster node or a Sentinel answers like Redis but is not a server Redchat can chat
/// on (yet): say so instead of failing later with MOVED or unknown commands. `HELLO` with no
/// arguments changes nothing and every user may run it.
async fn refuse_other_kinds(conn: &mut MultiplexedConnection) -> Result<()> {
    let hello: redis::RedisResult<redis::Value> = redis::cmd("HELLO").query_async(conn).await;
    let Ok(redis::Value::Map(fields)) = hello else {
        return Ok(());
    };
    let mode = fields.iter().find_map(|(k, v)| {
        (redis::from_redis_value_ref::<String>(k).ok()? == "mode")
            .then(|| redis::from_redis_value_ref::<String>(v).ok())
            .flatten()
    });
    match mode.as_deref() {
        Some("cluster") => Err(Error::UnsupportedServer(
            "this server is a Redis Cluster node: Redchat speaks to standalone servers only for now (run `redchat-cli doctor` for details)".into(),
        )),
        Some("sentinel") => Err(Error::UnsupportedServer(
            "this is a Sentinel, not a data server: connect to the master it names".into(),
        )),
        _ => Ok(()),
    }
}

pub(crate) enum Opening {
    Timeout,
    Failed(redis::RedisError),
}

impl Opening {
    /// The server refused our credentials or a command we need (ACL): retrying soon will
    /// not help, so the supervisor waits long (or for the user's "Retry now").
    pub fn is_refusal(&self) -> bool {
        match self {
            Opening::Timeout => false,
            Opening::Failed(e) => {
                redis_refusal::is_forbidden(e) || crate::Error::from_redis(e, "", false).is_auth()
            }
        }
    }

    /// A short reason for the status line while reconnecting.
    pub fn reason(&self, setup: &Setup) -> String {
        match self {
            Opening::Timeout => "no answer from the server".into(),
            Opening::Failed(e) => redis_refusal::reconnect_reason(e, &setup.addr, setup.tls),
        }
    }
}

/// Opens the main link: RESP3 with a fresh push channel, subscribed to every channel.
pub(crate) async fn open_main(
    client: &redis::Client,
    setup: &Setup,
    channels: &[String],
    limit: Duration,
) -> Result<Link, Opening> {
    let (tx, rx) = mpsc::unbounded_channel::<PushInfo>();
    let config = setup
        .connection_config()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(setup.response_timeout))
        .set_push_sender(tx);
    let open = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        conn.subscribe(channels).await?;
        Ok::<_, redis::RedisError>(conn)
    };
    match tokio::time::timeout(limit + setup.response_timeout, open).await {
        Ok(Ok(conn)) => Ok((conn, rx)),
        Ok(Err(e)) => Err(Opening::Failed(e)),
        Err(_) => Err(Opening::Timeout),
    }
}

/// Opens the inbox reader's own connection: blocking reads would stall every other
/// command on a shared socket, and need a response timeout longer than the block.
pub(crate) async fn open_reader(
    client: &redis::Client,
    setup: &Setup,
    block: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let limit = setup.connect_timeout.min(Duration::from_secs(5));
    let config = setup
        .connection_config()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(block + setup.response_timeout));
    match tokio::time::timeout(
        limit + setup.response_timeout,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        ))),
    }
}
