//! A real Sentinel deployment: a master, one replica, three sentinels, all on free ports,
//! with a 1 s down-after so a killed master fails over in a few seconds.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{RedisServer, free_port};

/// The service name the sentinels monitor.
pub const SERVICE: &str = "redchat";

/// A master, its replica and three sentinels. Everything is killed on drop.
#[derive(Debug)]
pub struct SentinelGroup {
    /// The data servers: `[0]` starts as the master, `[1]` as its replica.
    pub servers: Vec<RedisServer>,
    sentinels: Vec<(Child, u16)>,
    dir: PathBuf,
}

impl SentinelGroup {
    /// Starts the group and waits until every sentinel knows the replica and the other
    /// sentinels (a failover needs both).
    ///
    /// # Panics
    /// When a process does not start or the group does not form within 30 s.
    pub fn start() -> SentinelGroup {
        let master = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
        let master_port = master.port().to_string();
        let replica = RedisServer::start_with(&[
            "--replicaof",
            "127.0.0.1",
            &master_port,
            "--repl-diskless-sync-delay",
            "0",
        ]);
        let dir = std::env::temp_dir().join(format!(
            "redchat-sentinel-{}-{}",
            std::process::id(),
            master.port()
        ));
        std::fs::create_dir_all(&dir).expect("sentinel dir");
        let binary =
            std::env::var("REDCHAT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut sentinels = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let conf = dir.join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\n\
                     sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {SERVICE} 1000\n\
                     sentinel failover-timeout {SERVICE} 5000\n\
                     sentinel parallel-syncs {SERVICE} 1\n",
                    dir.display()
                ),
            )
            .expect("sentinel config");
            let child = Command::new(&binary)
                .arg(&conf)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {binary} --sentinel: {e}"));
            sentinels.push((child, port));
        }
        let group = SentinelGroup {
            servers: vec![master, replica],
            sentinels,
            dir,
        };
        group.wait_formed(Duration::from_secs(30));
        group
    }

    fn wait_formed(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for &(_, port) in &self.sentinels {
            loop {
                let formed = sentinel_master(port).is_some_and(|fields| {
                    field(&fields, "num-slaves") == Some("1")
                        && field(&fields, "num-other-sentinels") == Some("2")
                });
                if formed {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the sentinel group did not form within {limit:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// `redis+sentinel://` naming every sentinel and the service.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|(_, p)| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{SERVICE}", hosts.join(","))
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|(_, p)| *p).collect()
    }

    /// The port the sentinels name as the master now.
    ///
    /// # Panics
    /// When no sentinel answers.
    pub fn master_port(&self) -> u16 {
        self.sentinels
            .iter()
            .find_map(|&(_, port)| {
                let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .ok()?
                    .get_connection()
                    .ok()?;
                let (_, p): (String, u16) = redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(SERVICE)
                    .query(&mut conn)
                    .ok()?;
                Some(p)
            })
            .expect("a sentinel names the master")
    }

    /// The data server that is the master now.
    pub fn master(&mut self) -> &mut RedisServer {
        let port = self.master_port();
        self.servers
            .iter_mut()
            .find(|s| s.port() == port)
            .expect("the master is one of ours")
    }

    /// Waits until every sentinel names a master other than `old` and it says it is one;
    /// returns its port.
    ///
    /// # Panics
    /// When that takes longer than `limit`.
    pub fn wait_failover(&self, old: u16, limit: Duration) -> u16 {
        let deadline = Instant::now() + limit;
        loop {
            let named: Vec<u16> = self
                .sentinels
                .iter()
                .filter_map(|&(_, port)| {
                    sentinel_master(port).and_then(|f| field(&f, "port")?.parse().ok())
                })
                .collect();
            if let Some(&new) = named.first()
                && new != old
                && named.len() == self.sentinels.len()
                && named.iter().all(|p| *p == new)
                && role(new).as_deref() == Some("master")
            {
                return new;
            }
            assert!(
                Instant::now() < deadline,
                "no failover from {old} within {limit:?} (sentinels name {named:?})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SentinelGroup {
    fn drop(&mut self) {
        for (child, _) in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sentinel_master(port: u16) -> Option<Vec<String>> {
    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg(SERVICE)
        .query(&mut conn)
        .ok()
}

fn field<'a>(fields: &'a [String], name: &str) -> Option<&'a str> {
    fields
        .chunks(2)
        .find(|kv| kv.len() == 2 && kv[0] == name)
        .map(|kv| kv[1].as_str())
}

fn role(port: u16) -> Option<String> {
    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut conn).ok()?;
    redis::from_redis_value_ref::<String>(role.first()?).ok()
}
