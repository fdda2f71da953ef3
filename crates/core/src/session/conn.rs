//! The connection every task uses: one server's multiplexed connection, or a cluster's
//! (one per primary, routed by key slot: [`crate::cluster::ClusterConn`]). Both answer
//! commands and pipelines alike; subscriptions differ: on a cluster a room's live channel
//! is a shard channel (`SSUBSCRIBE` on the primary serving its slot), the rest classic.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::cluster::{self, ClusterConn};

#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConn),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conn::Single(_) => f.write_str("Conn::Single"),
            Conn::Cluster(c) => write!(f, "Conn::Cluster({} primaries)", c.nodes().count()),
        }
    }
}

impl Conn {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// A `MOVED` or `ASK` was answered: the cluster's slots moved, a fresh link is needed.
    pub fn is_stale(&self) -> bool {
        match self {
            Conn::Single(_) => false,
            Conn::Cluster(c) => c.is_stale(),
        }
    }

    /// Data nodes behind this connection (primaries and replicas of a cluster).
    pub fn nodes(&self) -> u32 {
        match self {
            Conn::Single(_) => 1,
            Conn::Cluster(c) => {
                let (p, r) = c.map().node_counts();
                (p + r) as u32
            }
        }
    }

    pub async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        self.subscribe_at(channels, None).await
    }

    /// Like [`Conn::subscribe`]; on a cluster the classic channel `home.0` is subscribed on
    /// the primary of slot `home.1` (our inbox channel on our inbox stream's primary, where
    /// senders' `PUBLISH` runs, so its receiver count sees us).
    pub async fn subscribe_at(
        &mut self,
        channels: &[String],
        home: Option<(&str, u16)>,
    ) -> RedisResult<()> {
        match self {
            Conn::Single(c) => c.subscribe(channels).await,
            Conn::Cluster(c) => {
                let (shard, classic): (Vec<&String>, Vec<&String>) = channels
                    .iter()
                    .partition(|ch| cluster::is_shard_channel(ch.as_bytes()));
                let (homed, classic): (Vec<&String>, Vec<&String>) = classic
                    .into_iter()
                    .partition(|ch| home.is_some_and(|(h, _)| h == ch.as_str()));
                if let (Some((_, slot)), false) = (home, homed.is_empty()) {
                    let (_, mut owner) = c.node_for(slot).ok_or_else(|| no_node("our inbox"))?;
                    owner.subscribe(&homed).await?;
                }
                if !classic.is_empty() {
                    // Classic pub/sub is broadcast to every node: any one will do.
                    let (_, mut first) = c.node_for(0).ok_or_else(|| no_node("slot 0"))?;
                    first.subscribe(&classic).await?;
                }
                // One SSUBSCRIBE per channel: channels of different slots in one call
                // would be refused (CROSSSLOT).
                for channel in shard {
                    let slot = cluster::slot(channel.as_bytes());
                    let (_, mut owner) = c.node_for(slot).ok_or_else(|| no_node(channel))?;
                    redis::cmd("SSUBSCRIBE")
                        .arg(channel)
                        .exec_async(&mut owner)
                        .await?;
                }
                Ok(())
            }
        }
    }

    pub async fn unsubscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Conn::Single(c) => c.unsubscribe(channels).await,
            Conn::Cluster(c) => {
                let (shard, classic): (Vec<&String>, Vec<&String>) = channels
                    .iter()
                    .partition(|ch| cluster::is_shard_channel(ch.as_bytes()));
                if !classic.is_empty()
                    && let Some((_, mut first)) = c.node_for(0)
                {
                    first.unsubscribe(&classic).await?;
                }
                for channel in shard {
                    let slot = cluster::slot(channel.as_bytes());
                    if let Some((_, mut owner)) = c.node_for(slot) {
                        redis::cmd("SUNSUBSCRIBE")
                            .arg(channel)
                            .exec_async(&mut owner)
                            .await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// `PING` (every primary of a cluster, concurrently): `Err` if any does not answer.
    pub async fn ping(&mut self) -> RedisResult<()> {
        match self {
            Conn::Single(c) => redis::cmd("PING").exec_async(c).await,
            Conn::Cluster(c) => {
                let pings = c.nodes().map(|(_, conn)| {
                    let mut conn = conn.clone();
                    async move { redis::cmd("PING").exec_async(&mut conn).await }
                });
                futures_util::future::join_all(pings)
                    .await
                    .into_iter()
                    .collect::<RedisResult<Vec<()>>>()
                    .map(|_| ())
            }
        }
    }
}

fn no_node(what: &str) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::other(format!(
        "no cluster primary serves {what}"
    )))
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
