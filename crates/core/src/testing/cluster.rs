//! A real Redis Cluster: 3 primaries with 1 replica each, on free ports, with a short
//! `cluster-node-timeout` so a killed primary fails over in a few seconds; helpers to find
//! a slot's owner, kill and restart nodes, and migrate a slot to another primary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{RedisServer, free_port};

/// Six nodes: `servers[0..3]` start as the primaries, `servers[3..6]` as their replicas.
/// Everything is killed on drop.
#[derive(Debug)]
pub struct ClusterGroup {
    /// The nodes, in the order they were given to `redis-cli --cluster create`.
    pub servers: Vec<RedisServer>,
    /// One cluster at a time per process: the nodes of a cluster keep calling a killed
    /// node's address, and a node of another cluster that got its port would be pulled in
    /// (two test clusters merged into one of 11 nodes).
    _alone: Alone,
}

static BUSY: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
static FREED: std::sync::Condvar = std::sync::Condvar::new();

/// Held while a cluster runs; the next one starts when it is dropped.
#[derive(Debug)]
struct Alone;

impl Alone {
    fn wait() -> Alone {
        let mut busy = BUSY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *busy {
            busy = FREED
                .wait(busy)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *busy = true;
        Alone
    }
}

impl Drop for Alone {
    fn drop(&mut self) {
        *BUSY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
        FREED.notify_one();
    }
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    pub failed: bool,
    /// Slot ranges it serves (primaries only), inclusive.
    pub slots: Vec<(u16, u16)>,
}

impl ClusterGroup {
    /// Starts six nodes, creates the cluster and waits until every node says it is ok and
    /// every replica has synced.
    ///
    /// # Panics
    /// When a node does not start or the cluster does not form within 30 s.
    pub fn start() -> ClusterGroup {
        let alone = Alone::wait();
        let servers: Vec<RedisServer> = (0..6)
            .map(|_| {
                // Free ports can be above 55535, where port + 10000 is no port: give the bus
                // port explicitly.
                let bus = free_port().to_string();
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-port",
                    &bus,
                    "--repl-diskless-sync-delay",
                    "0",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
            })
            .collect();
        let addrs: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let group = ClusterGroup {
            servers,
            _alone: alone,
        };
        group.wait_ok(Duration::from_secs(30));
        group
    }

    /// `redis://` of the first node (Redchat finds the others itself).
    pub fn url(&self) -> String {
        self.servers[0].url()
    }

    /// Every node's port.
    pub fn ports(&self) -> Vec<u16> {
        self.servers.iter().map(RedisServer::port).collect()
    }

    /// The node on `port`.
    ///
    /// # Panics
    /// When it is not one of ours.
    pub fn node(&mut self, port: u16) -> &mut RedisServer {
        self.servers
            .iter_mut()
            .find(|s| s.port() == port)
            .expect("one of our nodes")
    }

    /// `CLUSTER NODES` as a node that answers sees it.
    ///
    /// # Panics
    /// When no node answers.
    pub fn nodes(&self) -> Vec<Node> {
        self.servers
            .iter()
            .find_map(|s| cluster_nodes(s.port()))
            .expect("a cluster node answers")
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    ///
    /// # Panics
    /// When no node answers.
    pub fn slot(&self, key: &str) -> u16 {
        self.servers
            .iter()
            .find_map(|s| {
                let mut conn = connect(s.port())?;
                redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(key)
                    .query(&mut conn)
                    .ok()
            })
            .expect("a cluster node answers")
    }

    /// The port of the primary serving `slot` now.
    ///
    /// # Panics
    /// When no live primary serves it.
    pub fn owner(&self, slot: u16) -> u16 {
        self.nodes()
            .iter()
            .find(|n| {
                n.primary && !n.failed && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
            })
            .map(|n| n.port)
            .unwrap_or_else(|| panic!("no live primary serves slot {slot}"))
    }

    /// Waits until every node that runs says `cluster_state:ok`, agrees on who serves every
    /// slot, and every primary's replicas are online.
    ///
    /// # Panics
    /// When that takes longer than `limit`.
    pub fn wait_ok(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.settled() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle within {limit:?}: {:?}",
                self.servers
                    .iter()
                    .map(|s| (s.port(), cluster_nodes(s.port())))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn settled(&self) -> bool {
        let live = self
            .servers
            .iter()
            .filter(|s| connect(s.port()).is_some())
            .count();
        let mut views = Vec::new();
        for s in &self.servers {
            let Some(mut conn) = connect(s.port()) else {
                continue; // a node we killed
            };
            let info: Option<String> = redis::cmd("CLUSTER").arg("INFO").query(&mut conn).ok();
            if !info.is_some_and(|i| i.contains("cluster_state:ok")) {
                return false;
            }
            let Some(nodes) = cluster_nodes(s.port()) else {
                return false;
            };
            // Every node knows every live node, none of them as failed, and each as a
            // primary serving slots or a replica (not the slotless primary it starts as).
            if nodes.iter().filter(|n| !n.failed).count() != live
                || nodes
                    .iter()
                    .any(|n| n.primary && !n.failed && n.slots.is_empty())
            {
                return false;
            }
            // CLUSTER SLOTS lists a replica only once it is available (Redis 7: it has an
            // offset): clients see it then.
            let replicas = nodes.iter().filter(|n| !n.primary && !n.failed).count();
            let slots: Option<Vec<Vec<redis::Value>>> =
                redis::cmd("CLUSTER").arg("SLOTS").query(&mut conn).ok();
            // A primary serving several ranges lists its replicas with each: count them once.
            let listed = slots
                .unwrap_or_default()
                .iter()
                .flat_map(|r| r.iter().skip(3).map(|n| format!("{n:?}")))
                .collect::<std::collections::HashSet<_>>()
                .len();
            if listed != replicas {
                return false;
            }
            let mut owners: Vec<(u16, u16, u16)> = nodes
                .iter()
                .filter(|n| n.primary && !n.failed)
                .flat_map(|n| n.slots.iter().map(move |(a, b)| (*a, *b, n.port)))
                .collect();
            owners.sort_unstable();
            let covered: u32 = owners
                .iter()
                .map(|(a, b, _)| u32::from(*b) - u32::from(*a) + 1)
                .sum();
            if covered != 16384 {
                return false;
            }
            views.push(owners);
            // Replicas: every one that runs is connected to its primary.
            let role: Option<Vec<redis::Value>> = redis::cmd("ROLE").query(&mut conn).ok();
            let state = role.as_ref().and_then(|r| {
                let kind = redis::from_redis_value_ref::<String>(r.first()?).ok()?;
                if kind == "slave" {
                    redis::from_redis_value_ref::<String>(r.get(3)?).ok()
                } else {
                    Some("connected".into())
                }
            });
            if state.as_deref() != Some("connected") {
                return false;
            }
        }
        views.windows(2).all(|w| w[0] == w[1])
    }

    /// Moves `slot` (and its keys) to the primary on `to`, the way `redis-cli --cluster
    /// reshard` does: IMPORTING / MIGRATING, `MIGRATE` of every key, then `SETSLOT NODE` on
    /// every primary.
    ///
    /// # Panics
    /// When a step fails.
    pub fn migrate_slot(&self, slot: u16, to: u16) {
        let nodes = self.nodes();
        let from = self.owner(slot);
        assert_ne!(from, to, "slot {slot} is already on {to}");
        let id = |port: u16| {
            nodes
                .iter()
                .find(|n| n.port == port)
                .map(|n| n.id.clone())
                .expect("a known node")
        };
        let (from_id, to_id) = (id(from), id(to));
        let mut src = connect(from).expect("the source answers");
        let mut dst = connect(to).expect("the target answers");
        let ok = |r: redis::RedisResult<()>, what: &str| {
            r.unwrap_or_else(|e| panic!("{what} for slot {slot}: {e}"));
        };
        ok(
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("IMPORTING")
                .arg(&from_id)
                .query(&mut dst),
            "IMPORTING",
        );
        ok(
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("MIGRATING")
                .arg(&to_id)
                .query(&mut src),
            "MIGRATING",
        );
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut src)
                .expect("GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            ok(
                redis::cmd("MIGRATE")
                    .arg("127.0.0.1")
                    .arg(to)
                    .arg("")
                    .arg(0)
                    .arg(5000)
                    .arg("KEYS")
                    .arg(&keys)
                    .query::<String>(&mut src)
                    .map(|_| ()),
                "MIGRATE",
            );
        }
        // The target first, then the source, then everyone else (as redis-cli does).
        let mut order = vec![to, from];
        order.extend(
            nodes
                .iter()
                .filter(|n| n.primary && !n.failed && n.port != to && n.port != from)
                .map(|n| n.port),
        );
        for port in order {
            let mut conn = connect(port).expect("a primary answers");
            ok(
                redis::cmd("CLUSTER")
                    .arg("SETSLOT")
                    .arg(slot)
                    .arg("NODE")
                    .arg(&to_id)
                    .query(&mut conn),
                "SETSLOT NODE",
            );
        }
    }
}

fn connect(port: u16) -> Option<redis::Connection> {
    let conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(conn)
}

/// `CLUSTER NODES` of the node on `port`, parsed.
fn cluster_nodes(port: u16) -> Option<Vec<Node>> {
    let mut conn = connect(port)?;
    let text: String = redis::cmd("CLUSTER").arg("NODES").query(&mut conn).ok()?;
    Some(text.lines().filter_map(parse_node).collect())
}

/// `<id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch> <link> <slot>…`
fn parse_node(line: &str) -> Option<Node> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let addr = fields.get(1)?;
    let port = addr.split('@').next()?.rsplit(':').next()?.parse().ok()?;
    let flags = fields.get(2)?;
    let slots = fields
        .iter()
        .skip(8)
        .filter(|s| !s.starts_with('['))
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => s.parse().ok().map(|a| (a, a)),
        })
        .collect();
    Some(Node {
        id: (*fields.first()?).to_string(),
        port,
        primary: flags.contains("master"),
        failed: flags.contains("fail") || flags.contains("noaddr"),
        slots,
    })
}
