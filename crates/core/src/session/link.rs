//! Opening connections: the main link (RESP3, pushes, subscribed) and stream readers' own
//! connections, with first-attempt errors that say precisely what is wrong.

use std::time::Duration;

use redis::PushInfo;
use tokio::sync::mpsc;

use super::config::Setup;
use super::events::Topology;
use super::target::{Current, Target};
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

pub(crate) type Link = (super::Conn, mpsc::UnboundedReceiver<PushInfo>);

/// The first connection, with errors that say precisely what is wrong. For Sentinel, the
/// sentinels are asked for the master first; a server that says it is a cluster node makes
/// the session speak cluster (one connection per primary).
pub(crate) async fn first_link(
    target: &Target,
    setup: &Setup,
    channels: &[String],
) -> Result<(Link, Current)> {
    let current = target.resolve().await?;
    let settings = &current.settings;
    reach(settings).await?;
    let first_error = |e: Opening| match e {
        Opening::Timeout => handshake_timeout(settings),
        Opening::Failed(e) if e.is_timeout() => handshake_timeout(settings),
        Opening::Failed(e) => setup.redis_error(&e),
        Opening::Replica(detail) | Opening::Cluster(detail) => Error::Unreachable {
            addr: settings.addr(),
            detail,
        },
    };
    if target.topology() != Topology::Cluster {
        let (mut conn, pushes) =
            open_main(&current.client, setup, channels, settings.connect_timeout)
                .await
                .map_err(first_error)?;
        let sentinel = target.topology() == Topology::Sentinel;
        if !refuse_other_kinds(&mut conn, sentinel).await? {
            if sentinel {
                check_master(&mut conn, &settings.addr())
                    .await
                    .map_err(first_error)?;
            }
            return Ok(((conn, pushes), current));
        }
        // A cluster node: this one connection is dropped, the cluster link replaces it.
        target.found_cluster();
    }
    let link = open_cluster(target, &current, setup, channels, settings.connect_timeout)
        .await
        .map_err(first_error)?;
    Ok((link, current))
}

/// The main link to whatever the target is now: one server's connection, or a cluster's.
pub(crate) async fn open_link(
    target: &Target,
    current: &Current,
    setup: &Setup,
    channels: &[String],
    limit: Duration,
) -> Result<Link, Opening> {
    if target.topology() == Topology::Cluster {
        return open_cluster(target, current, setup, channels, limit).await;
    }
    let (mut conn, pushes) = open_main(&current.client, setup, channels, limit).await?;
    if target.topology() == Topology::Sentinel {
        check_master(&mut conn, &current.settings.addr()).await?;
    }
    Ok((conn, pushes))
}

/// A cluster link: the slot map from the first seed that answers with one serving every
/// slot, a connection to each primary (every node's pushes on one channel), subscribed.
async fn open_cluster(
    target: &Target,
    current: &Current,
    setup: &Setup,
    channels: &[String],
    limit: Duration,
) -> Result<Link, Opening> {
    let (tx, rx) = mpsc::unbounded_channel::<PushInfo>();
    let cluster = cluster_conn(target, current, setup, limit, Some(tx)).await?;
    target.remember_nodes(cluster.map());
    let mut conn = super::Conn::Cluster(cluster);
    let inbox = setup.inbox();
    let home = crate::cluster::slot(setup.keys.inbox_stream(&setup.user).as_bytes());
    let subscribed = conn.subscribe_at(channels, Some((inbox.as_str(), home)));
    match tokio::time::timeout(setup.response_timeout, subscribed).await {
        Ok(Ok(())) => Ok((conn, rx)),
        Ok(Err(e)) => Err(Opening::Failed(e)),
        Err(_) => Err(Opening::Timeout),
    }
}

/// A cluster connection from the first seed (the given node, then every node last seen)
/// whose slot map serves every slot; node connections with `pushes` as their push sender.
async fn cluster_conn(
    target: &Target,
    current: &Current,
    setup: &Setup,
    limit: Duration,
    pushes: Option<mpsc::UnboundedSender<PushInfo>>,
) -> Result<crate::cluster::ClusterConn, Opening> {
    let mut failures = Vec::new();
    for (host, port) in target.cluster_seeds() {
        let seed = crate::cluster::NodeAddr {
            host: host.clone(),
            port,
        };
        let node = |addr: crate::cluster::NodeAddr| {
            let at = current.settings.at(addr.host.as_str(), addr.port);
            let config = setup
                .connection_config()
                .set_connection_timeout(Some(limit))
                .set_response_timeout(Some(setup.response_timeout));
            let config = match &pushes {
                Some(tx) => config.set_push_sender(tx.clone()),
                None => config,
            };
            async move {
                let client = crate::tls::client(&at)
                    .map_err(|e| redis::RedisError::from(std::io::Error::other(e.to_string())))?;
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            }
        };
        let open = crate::cluster::ClusterConn::open(seed, node);
        match tokio::time::timeout(limit + setup.response_timeout, open).await {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) => failures.push(format!("{host}:{port}: {e}")),
            Err(_) => failures.push(format!("{host}:{port}: no answer in time")),
        }
    }
    Err(Opening::Cluster(format!(
        "no cluster node gave a usable slot map ({})",
        failures.join("; ")
    )))
}

/// The server the sentinels named is a master (`ROLE`): during a failover they may still
/// name a master that has just become a replica, whose writes would fail.
pub(crate) async fn check_master(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    addr: &str,
) -> Result<(), Opening> {
    let role: Vec<redis::Value> = match redis::cmd("ROLE").query_async(conn).await {
        Ok(role) => role,
        // ROLE may be forbidden by an ACL: the writes will tell.
        Err(e) if redis_refusal::is_forbidden(&e) => return Ok(()),
        Err(e) => return Err(Opening::Failed(e)),
    };
    match role.first().map(redis::from_redis_value_ref::<String>) {
        Some(Ok(r)) if r == "master" => Ok(()),
        Some(Ok(r)) => Err(Opening::Replica(format!(
            "the sentinels name {addr} the master, but it is a {r} (a failover is under way)"
        ))),
        _ => Ok(()),
    }
}

/// A Sentinel answers like Redis but is not a server Redchat can chat on: say so instead of
/// failing later with unknown commands. `Ok(true)`: a cluster node (speak cluster). `HELLO` with no
/// arguments changes nothing and every user may run it. A replica named directly is
/// refused too (its writes would fail); behind Sentinel that is [`check_master`]'s
/// retryable case instead.
async fn refuse_other_kinds(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    sentinel: bool,
) -> Result<bool> {
    let hello: redis::RedisResult<redis::Value> = redis::cmd("HELLO").query_async(conn).await;
    let Ok(redis::Value::Map(fields)) = hello else {
        return Ok(false);
    };
    let field = |name: &str| {
        fields.iter().find_map(|(k, v)| {
            (redis::from_redis_value_ref::<String>(k).ok()? == name)
                .then(|| redis::from_redis_value_ref::<String>(v).ok())
                .flatten()
        })
    };
    let cluster = field("mode").as_deref() == Some("cluster");
    if !sentinel && !cluster && field("role").as_deref() == Some("replica") {
        return Err(Error::UnsupportedServer(
            "this server is a read-only replica: connect to its master, or to the sentinels with redis+sentinel://host:26379/SERVICE so Redchat follows failovers".into(),
        ));
    }
    match field("mode").as_deref() {
        Some("cluster") if sentinel => Err(Error::UnsupportedServer(
            "the sentinels name a Redis Cluster node as the master: give the cluster's nodes instead (redis://node:6379)".into(),
        )),
        Some("cluster") => Ok(true),
        Some("sentinel") => Err(Error::UnsupportedServer(
            "this is a Sentinel, not a data server: use redis+sentinel://host:26379/SERVICE (or add serviceName=SERVICE) and Redchat asks it for the master".into(),
        )),
        _ => Ok(false),
    }
}

pub(crate) enum Opening {
    Timeout,
    Failed(redis::RedisError),
    /// Behind Sentinel: the server named the master is not (or no longer) one.
    Replica(String),
    /// A cluster without a usable slot map (slots without a primary, nodes down).
    Cluster(String),
}

impl Opening {
    /// The server refused our credentials or a command we need (ACL): retrying soon will
    /// not help, so the supervisor waits long (or for the user's "Retry now").
    pub fn is_refusal(&self) -> bool {
        match self {
            Opening::Timeout | Opening::Replica(_) | Opening::Cluster(_) => false,
            Opening::Failed(e) => {
                redis_refusal::is_forbidden(e) || crate::Error::from_redis(e, "", false).is_auth()
            }
        }
    }

    /// A short reason for the status line while reconnecting.
    pub fn reason(&self, setup: &Setup) -> String {
        match self {
            Opening::Timeout => "no answer from the server".into(),
            Opening::Replica(why) | Opening::Cluster(why) => why.clone(),
            Opening::Failed(e) => redis_refusal::reconnect_reason(e, &setup.addr, setup.tls),
        }
    }

    fn reason_text(&self) -> String {
        match self {
            Opening::Timeout => "no answer".into(),
            Opening::Replica(why) | Opening::Cluster(why) => why.clone(),
            Opening::Failed(e) => e.to_string(),
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
        Ok(Ok(conn)) => Ok((super::Conn::Single(conn), rx)),
        Ok(Err(e)) => Err(Opening::Failed(e)),
        Err(_) => Err(Opening::Timeout),
    }
}

/// A cluster connection for the stream reader (no pushes; it does not block).
pub(crate) async fn open_cluster_reader(
    target: &Target,
    current: &Current,
    setup: &Setup,
) -> Result<super::Conn, String> {
    let limit = setup.connect_timeout.min(Duration::from_secs(5));
    cluster_conn(target, current, setup, limit, None)
        .await
        .map(super::Conn::Cluster)
        .map_err(|e| e.reason_text())
}

/// Opens the inbox reader's own connection: blocking reads would stall every other
/// command on a shared socket, and need a response timeout longer than the block.
pub(crate) async fn open_reader(
    client: &redis::Client,
    setup: &Setup,
    block: Duration,
) -> redis::RedisResult<super::Conn> {
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
        Ok(result) => result.map(super::Conn::Single),
        Err(_) => Err(redis::RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        ))),
    }
}
