//! Redis Cluster groundwork: hash slots and the slot map, read from `CLUSTER SLOTS` and
//! checked like any other untrusted reply, and [`ClusterConn`], one connection per primary
//! that routes every command to the primary serving its key and splits pipelines by node.
//! Sessions do not speak to a cluster yet (they refuse it with a clear error); the doctor
//! uses the map to describe one (docs/architecture.md, "Cluster: what is built").

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The hash slot of `key`: CRC16 (XMODEM) of the key, or of its `{hash tag}` when it has a
/// non-empty one, modulo 16384 (the Redis Cluster specification).
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One node as `CLUSTER SLOTS` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

/// A slot range, its primary and its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub first: u16,
    pub last: u16,
    pub primary: NodeAddr,
    pub replicas: Vec<NodeAddr>,
}

/// Who serves which slots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotMap {
    /// Sorted by first slot, not overlapping.
    pub ranges: Vec<Range>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply. `asked` is the node that answered: a primary given
    /// with an empty host (a node that does not know its own address) means that one.
    ///
    /// # Errors
    /// A description of what does not look like a slot map: every byte from Redis is
    /// untrusted, and this map decides where messages go.
    pub fn parse(reply: &Value, asked: &NodeAddr) -> Result<SlotMap, String> {
        let Value::Array(items) = reply else {
            return Err("CLUSTER SLOTS did not answer with a list".into());
        };
        if items.len() > usize::from(SLOTS) {
            return Err("CLUSTER SLOTS named more ranges than there are slots".into());
        }
        let mut ranges = Vec::with_capacity(items.len());
        for item in items {
            let Value::Array(fields) = item else {
                return Err("a CLUSTER SLOTS range is not a list".into());
            };
            let slot_at = |i: usize| match fields.get(i) {
                Some(Value::Int(n)) if (0..i64::from(SLOTS)).contains(n) => Ok(*n as u16),
                _ => Err(format!("a slot number is not one (field {i})")),
            };
            let (first, last) = (slot_at(0)?, slot_at(1)?);
            if first > last {
                return Err(format!("slot range {first}-{last} is backwards"));
            }
            let mut nodes = fields[2..].iter().map(|n| node(n, asked));
            let primary = nodes
                .next()
                .ok_or_else(|| format!("slots {first}-{last} have no primary"))??;
            let replicas = nodes.collect::<Result<Vec<_>, _>>()?;
            ranges.push(Range {
                first,
                last,
                primary,
                replicas,
            });
        }
        ranges.sort_by_key(|r| r.first);
        if let Some(w) = ranges.windows(2).find(|w| w[1].first <= w[0].last) {
            return Err(format!(
                "slot ranges {}-{} and {}-{} overlap",
                w[0].first, w[0].last, w[1].first, w[1].last
            ));
        }
        Ok(SlotMap { ranges })
    }

    /// The primary serving `slot`, if any does.
    pub fn primary(&self, slot: u16) -> Option<&NodeAddr> {
        let i = self.ranges.partition_point(|r| r.last < slot);
        self.ranges
            .get(i)
            .filter(|r| r.first <= slot)
            .map(|r| &r.primary)
    }

    /// Slots no primary serves (a cluster that is not `ok`).
    pub fn uncovered(&self) -> u32 {
        let covered: u32 = self
            .ranges
            .iter()
            .map(|r| u32::from(r.last) - u32::from(r.first) + 1)
            .sum();
        u32::from(SLOTS) - covered
    }

    /// Distinct primaries and replicas.
    pub fn node_counts(&self) -> (usize, usize) {
        let mut primaries: Vec<&NodeAddr> = self.ranges.iter().map(|r| &r.primary).collect();
        let mut replicas: Vec<&NodeAddr> =
            self.ranges.iter().flat_map(|r| r.replicas.iter()).collect();
        primaries.sort();
        primaries.dedup();
        replicas.sort();
        replicas.dedup();
        (primaries.len(), replicas.len())
    }
}

/// `[host, port, id, …]` of one node.
fn node(value: &Value, asked: &NodeAddr) -> Result<NodeAddr, String> {
    let Value::Array(fields) = value else {
        return Err("a CLUSTER SLOTS node is not a list".into());
    };
    let host = match fields.first() {
        Some(Value::BulkString(b)) => {
            String::from_utf8(b.clone()).map_err(|_| "a node's host is not text".to_string())?
        }
        Some(Value::SimpleString(s)) => s.clone(),
        _ => return Err("a node has no host".into()),
    };
    let port = match fields.get(1) {
        Some(Value::Int(p)) if (1..=65535).contains(p) => *p as u16,
        _ => return Err(format!("node {host:?} has no valid port")),
    };
    if host.is_empty() || host == "?" {
        return Ok(NodeAddr {
            host: asked.host.clone(),
            port,
        });
    }
    match crate::sentinel::valid_master(&host, &port.to_string()) {
        Some((host, port)) => Ok(NodeAddr { host, port }),
        None => Err(format!(
            "node address {:?} is not a host name or IP address",
            host.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        )),
    }
}

/// `CLUSTER SLOTS` of the node `conn` talks to, parsed.
///
/// # Errors
/// The command's error, or what is wrong with its reply.
pub async fn slot_map(
    conn: &mut redis::aio::MultiplexedConnection,
    asked: &NodeAddr,
) -> Result<SlotMap, String> {
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    SlotMap::parse(&reply, asked)
}

/// One multiplexed connection per primary of a cluster, and the slot map they were opened
/// for. Commands go to the primary serving their key (`XREAD` by its first stream, keyless
/// commands such as `PUBLISH` and `PING` to the node of the command before them, or the
/// first primary); a pipeline is split into one pipeline per node, sent concurrently, and
/// its answers put back in order. `PUBLISH` to a [shard channel](is_shard_channel) is sent
/// as `SPUBLISH`; an `XREAD` over several slots (without `BLOCK`) as one per slot. A `MOVED` or `ASK` answer (the map is out of date: a slot
/// migrated, a failover) is returned as it is and marks the connection
/// [stale](ClusterConn::is_stale): the owner opens a fresh one. No transactions.
#[derive(Clone)]
pub struct ClusterConn {
    shared: Arc<Shared>,
}

struct Shared {
    map: SlotMap,
    nodes: HashMap<NodeAddr, MultiplexedConnection>,
    first: NodeAddr,
    stale: AtomicBool,
}

impl ClusterConn {
    /// Reads the slot map from `seed`, then opens a connection to every primary with
    /// `open` (the caller's TLS, credentials, push sender and timeouts).
    ///
    /// # Errors
    /// The seed's or a primary's connection error, or a slot map that does not serve every
    /// slot (a cluster that is not `ok`).
    pub async fn open<F, Fut>(seed: NodeAddr, open: F) -> Result<ClusterConn, String>
    where
        F: Fn(NodeAddr) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<MultiplexedConnection>>,
    {
        let mut seed_conn = open(seed.clone()).await.map_err(|e| e.to_string())?;
        let map = slot_map(&mut seed_conn, &seed).await?;
        if map.uncovered() > 0 {
            return Err(format!(
                "{} of 16384 slots have no primary: the cluster is not ok",
                map.uncovered()
            ));
        }
        let mut nodes = HashMap::new();
        for range in &map.ranges {
            let addr = range.primary.clone();
            if nodes.contains_key(&addr) {
                continue;
            }
            let conn = if addr == seed {
                seed_conn.clone()
            } else {
                open(addr.clone())
                    .await
                    .map_err(|e| format!("{}:{}: {e}", addr.host, addr.port))?
            };
            nodes.insert(addr, conn);
        }
        let first = map.ranges[0].primary.clone();
        Ok(ClusterConn {
            shared: Arc::new(Shared {
                map,
                nodes,
                first,
                stale: AtomicBool::new(false),
            }),
        })
    }

    /// The slot map this connection routes by.
    pub fn map(&self) -> &SlotMap {
        &self.shared.map
    }

    /// The primaries and their connections.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeAddr, &MultiplexedConnection)> {
        self.shared.nodes.iter()
    }

    /// The connection to the primary serving `slot`.
    pub fn node_for(&self, slot: u16) -> Option<(&NodeAddr, MultiplexedConnection)> {
        let addr = self.shared.map.primary(slot)?;
        let (addr, conn) = self.shared.nodes.get_key_value(addr)?;
        Some((addr, conn.clone()))
    }

    /// A `MOVED` or `ASK` was answered: the slot map is out of date.
    pub fn is_stale(&self) -> bool {
        self.shared.stale.load(Ordering::Relaxed)
    }

    fn node_of(&self, cmd: &Cmd) -> Option<&NodeAddr> {
        command_slot(cmd).and_then(|slot| self.shared.map.primary(slot))
    }

    fn conn(&self, addr: &NodeAddr) -> redis::RedisResult<MultiplexedConnection> {
        self.shared.nodes.get(addr).cloned().ok_or_else(|| {
            redis::RedisError::from(std::io::Error::other(format!(
                "no connection to {}:{}",
                addr.host, addr.port
            )))
        })
    }

    fn note(&self, value: &Value) {
        if let Value::ServerError(e) = value
            && matches!(e.code(), "MOVED" | "ASK")
        {
            self.shared.stale.store(true, Ordering::Relaxed);
        }
    }

    fn note_error(&self, e: &redis::RedisError) {
        if matches!(e.code(), Some("MOVED" | "ASK")) {
            self.shared.stale.store(true, Ordering::Relaxed);
        }
    }
}

impl ClusterConn {
    /// An `XREAD` over streams in several slots, as one `XREAD` per slot sent concurrently;
    /// the answers merged (nil when every one is nil). Only without `BLOCK`: a blocked read
    /// on a shared node connection would hold every command behind it.
    async fn xread_split(&self, parts: Vec<Cmd>) -> redis::RedisResult<Value> {
        let sent = parts.iter().map(|part| {
            let mut conn = self.clone();
            async move { conn.req_packed_command(part).await }
        });
        let mut merged: Vec<(Value, Value)> = Vec::new();
        let mut any = false;
        for answer in futures_util::future::join_all(sent).await {
            match answer? {
                Value::Nil => {}
                Value::Map(pairs) => {
                    any = true;
                    merged.extend(pairs);
                }
                Value::Array(items) => {
                    any = true;
                    for item in items {
                        if let Value::Array(mut kv) = item
                            && kv.len() == 2
                        {
                            let entries = kv.pop().unwrap_or(Value::Nil);
                            let key = kv.pop().unwrap_or(Value::Nil);
                            merged.push((key, entries));
                        }
                    }
                }
                other => return Ok(other),
            }
        }
        Ok(if any { Value::Map(merged) } else { Value::Nil })
    }
}

/// A command's arguments, its name first.
fn simple_args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .filter_map(|a| match a {
            redis::Arg::Simple(b) => Some(b),
            _ => None,
        })
        .collect()
}

/// A channel that lives in one slot on a cluster: a room's live channel
/// (`…{r:<room>}:live`), published with `SPUBLISH` and subscribed with `SSUBSCRIBE`, so a
/// room's messages cross only its shard. Other channels (inboxes, which the original client
/// publishes to, signals, presence) stay classic.
pub fn is_shard_channel(channel: &[u8]) -> bool {
    let text = String::from_utf8_lossy(channel);
    text.contains("{r:") && text.ends_with(":live")
}

/// `PUBLISH <shard channel> …` as `SPUBLISH`.
fn shard_publish(cmd: &Cmd) -> Option<Cmd> {
    let mut args = simple_args(cmd).into_iter();
    if !args.next()?.eq_ignore_ascii_case(b"PUBLISH") {
        return None;
    }
    let channel = args.next()?;
    if !is_shard_channel(channel) {
        return None;
    }
    let mut sharded = redis::cmd("SPUBLISH");
    sharded.arg(channel);
    for a in args {
        sharded.arg(a);
    }
    Some(sharded)
}

/// `XREAD [COUNT n] STREAMS k1 … kn id1 … idn` over keys of more than one slot, split into
/// one command per slot; `None` when it is not such a read (or it blocks: refused as is).
fn split_xread(cmd: &Cmd) -> Option<Vec<Cmd>> {
    let args = simple_args(cmd);
    if !args.first()?.eq_ignore_ascii_case(b"XREAD") {
        return None;
    }
    let at = args
        .iter()
        .position(|a| a.eq_ignore_ascii_case(b"STREAMS"))?;
    let rest = &args[at + 1..];
    if !rest.len().is_multiple_of(2) || args[1..at].iter().any(|a| a.eq_ignore_ascii_case(b"BLOCK"))
    {
        return None;
    }
    let (keys, ids) = rest.split_at(rest.len() / 2);
    let mut by_slot: Vec<(u16, Vec<usize>)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let s = slot(key);
        match by_slot.iter_mut().find(|(x, _)| *x == s) {
            Some((_, v)) => v.push(i),
            None => by_slot.push((s, vec![i])),
        }
    }
    if by_slot.len() < 2 {
        return None;
    }
    Some(
        by_slot
            .into_iter()
            .map(|(_, indexes)| {
                let mut part = redis::cmd("XREAD");
                for a in &args[1..at] {
                    part.arg(*a);
                }
                part.arg("STREAMS");
                for &i in &indexes {
                    part.arg(keys[i]);
                }
                for &i in &indexes {
                    part.arg(ids[i]);
                }
                part
            })
            .collect(),
    )
}

/// The slot a command must run in: its first key's (`XREAD`/`XREADGROUP`: the first stream
/// after `STREAMS`); `None` for commands without a key.
pub fn command_slot(cmd: &Cmd) -> Option<u16> {
    let args = simple_args(cmd);
    let name = args.first()?.to_ascii_uppercase();
    let key = match name.as_slice() {
        b"XREAD" | b"XREADGROUP" => {
            let at = args
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"STREAMS"))?;
            args.get(at + 1)?
        }
        b"PING" | b"ECHO" | b"WAIT" | b"INFO" | b"HELLO" | b"ROLE" | b"CLUSTER" | b"CLIENT"
        | b"PUBLISH" | b"SUBSCRIBE" | b"UNSUBSCRIBE" | b"PSUBSCRIBE" | b"PUNSUBSCRIBE"
        | b"PUBSUB" | b"ACL" | b"COMMAND" | b"MULTI" | b"EXEC" | b"DISCARD" | b"TIME" => {
            return None;
        }
        _ => args.get(1)?,
    };
    Some(slot(key))
}

impl ConnectionLike for ClusterConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            if let Some(parts) = split_xread(cmd) {
                return self.xread_split(parts).await;
            }
            let sharded = shard_publish(cmd);
            let cmd = sharded.as_ref().unwrap_or(cmd);
            let addr = self.node_of(cmd).unwrap_or(&self.shared.first).clone();
            let mut conn = self.conn(&addr)?;
            match conn.req_packed_command(cmd).await {
                Ok(v) => {
                    self.note(&v);
                    Ok(v)
                }
                Err(e) => {
                    self.note_error(&e);
                    Err(e)
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            if offset != 0 {
                return Err(redis::RedisError::from(std::io::Error::other(
                    "transactions are not sent to a cluster",
                )));
            }
            // One pipeline per node, in the order the commands were given; a keyless
            // command goes with the one before it.
            let mut groups: Vec<(NodeAddr, Pipeline, Vec<usize>)> = Vec::new();
            let mut last = self.shared.first.clone();
            for (i, cmd) in pipeline.cmd_iter().enumerate() {
                let cmd = shard_publish(cmd).unwrap_or_else(|| cmd.clone());
                if let Some(addr) = self.node_of(&cmd) {
                    last = addr.clone();
                }
                let at = match groups.iter().position(|(a, _, _)| *a == last) {
                    Some(at) => at,
                    None => {
                        groups.push((last.clone(), redis::pipe(), Vec::new()));
                        groups.len() - 1
                    }
                };
                groups[at].1.add_command(cmd);
                groups[at].2.push(i);
            }
            let sent = groups.iter().map(|(addr, pipe, _)| {
                let conn = self.conn(addr);
                async move {
                    let mut conn = conn?;
                    conn.req_packed_commands(pipe, 0, pipe.len()).await
                }
            });
            let answers = futures_util::future::join_all(sent).await;
            let mut values = vec![Value::Nil; pipeline.len()];
            for ((_, _, indexes), answer) in groups.iter().zip(answers) {
                let answer = answer.inspect_err(|e| self.note_error(e))?;
                for (i, v) in indexes.iter().zip(answer) {
                    self.note(&v);
                    values[*i] = v;
                }
            }
            Ok(values.into_iter().take(count).collect())
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Value {
        Value::Int(n)
    }
    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }
    fn node_value(host: &str, port: i64) -> Value {
        Value::Array(vec![bulk(host), int(port), bulk("id")])
    }
    fn asked() -> NodeAddr {
        NodeAddr {
            host: "10.0.0.1".into(),
            port: 7000,
        }
    }

    #[test]
    fn slots_follow_the_specification() {
        // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"somekey"), 11058);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(
            slot(b"foo{}{bar}"),
            slot(b"foo{}{bar}"),
            "an empty tag hashes the key"
        );
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
        // Redchat's keys: a user's streams share a slot, a room's too.
        assert_eq!(
            slot(b"redchat:{u:bob}:inbox"),
            slot(b"redchat:{u:bob}:sent")
        );
        assert_eq!(
            slot(b"redchat:{r:team}:log"),
            slot(b"redchat:{r:team}:live")
        );
    }

    #[test]
    fn a_slot_map_is_read_and_looked_up() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                int(5461),
                int(10922),
                node_value("10.0.0.2", 7001),
                node_value("10.0.0.5", 7004),
            ]),
            Value::Array(vec![int(0), int(5460), node_value("", 7000)]),
            Value::Array(vec![int(10923), int(16383), node_value("cache-3", 7002)]),
        ]);
        let map = SlotMap::parse(&reply, &asked()).unwrap();
        assert_eq!(map.uncovered(), 0);
        assert_eq!(map.node_counts(), (3, 1));
        assert_eq!(
            map.primary(0).unwrap(),
            &asked(),
            "an empty host is the node asked"
        );
        assert_eq!(map.primary(5461).unwrap().port, 7001);
        assert_eq!(map.primary(16383).unwrap().host, "cache-3");
        let partial = SlotMap::parse(
            &Value::Array(vec![Value::Array(vec![
                int(0),
                int(99),
                node_value("h", 1),
            ])]),
            &asked(),
        )
        .unwrap();
        assert_eq!(partial.primary(100), None);
        assert_eq!(partial.uncovered(), 16384 - 100);
    }

    #[test]
    fn a_hostile_cluster_slots_reply_is_refused() {
        let range = |a: i64, b: i64, nodes: Vec<Value>| {
            let mut fields = vec![int(a), int(b)];
            fields.extend(nodes);
            Value::Array(fields)
        };
        let cases = [
            ("not a list", bulk("OK")),
            (
                "slot too big",
                Value::Array(vec![range(0, 16384, vec![node_value("h", 1)])]),
            ),
            (
                "negative slot",
                Value::Array(vec![range(-1, 5, vec![node_value("h", 1)])]),
            ),
            (
                "backwards",
                Value::Array(vec![range(9, 5, vec![node_value("h", 1)])]),
            ),
            ("no primary", Value::Array(vec![range(0, 5, vec![])])),
            (
                "port 0",
                Value::Array(vec![range(0, 5, vec![node_value("h", 0)])]),
            ),
            (
                "port too big",
                Value::Array(vec![range(0, 5, vec![node_value("h", 70000)])]),
            ),
            (
                "escape in the host",
                Value::Array(vec![range(0, 5, vec![node_value("evil\x1b[2J", 7000)])]),
            ),
            (
                "overlap",
                Value::Array(vec![
                    range(0, 10, vec![node_value("a", 1)]),
                    range(10, 20, vec![node_value("b", 2)]),
                ]),
            ),
        ];
        for (what, reply) in cases {
            let err = SlotMap::parse(&reply, &asked()).expect_err(what);
            assert!(
                !err.contains('\x1b'),
                "{what}: the error is safe to print: {err:?}"
            );
        }
    }
}
