//! Where the data server is: fixed for a standalone server; for Sentinel, asked of the
//! sentinels before the first connection, before every reconnect and after a
//! `+switch-master`, so a failover is followed instead of retried against the dead master.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::events::Topology;
use crate::error::{Error, Result};
use crate::settings::{ConnectionSettings, ServerKind};

/// The data server the session talks to now.
#[derive(Clone)]
pub(crate) struct Current {
    pub client: redis::Client,
    /// The data server's settings (for Sentinel: the master's host and port).
    pub settings: ConnectionSettings,
    /// Data nodes known (a master and its replicas; 1 for a standalone server).
    pub nodes: u32,
}

pub(crate) struct Target {
    given: ConnectionSettings,
    current: Mutex<Option<Current>>,
    /// A cluster: forced (`cluster=true`) or found (the server says `mode: cluster`).
    cluster: AtomicBool,
    /// The cluster's nodes as last seen: where to start when the given one is down.
    seeds: Mutex<Vec<(String, u16)>>,
}

impl Target {
    /// The target of `given`. TLS files are read (and refused) now.
    ///
    /// # Errors
    /// [`Error::Tls`] for bad TLS files; [`Error::UnsupportedServer`] for a forced Cluster.
    pub fn new(given: &ConnectionSettings) -> Result<Target> {
        let current = match given.kind {
            ServerKind::Auto => Some(Current {
                client: crate::tls::client(given)?,
                settings: given.clone(),
                nodes: 1,
            }),
            ServerKind::Sentinel { .. } => {
                // Checks the TLS files once; the master's client is built when it is known.
                crate::tls::client(given)?;
                None
            }
            ServerKind::Cluster => Some(Current {
                client: crate::tls::client(given)?,
                settings: given.clone(),
                nodes: 1,
            }),
        };
        Ok(Target {
            given: given.clone(),
            current: Mutex::new(current),
            cluster: AtomicBool::new(given.kind == ServerKind::Cluster),
            seeds: Mutex::new(Vec::new()),
        })
    }

    pub fn topology(&self) -> Topology {
        match self.given.kind {
            ServerKind::Sentinel { .. } => Topology::Sentinel,
            _ if self.cluster.load(Ordering::Relaxed) => Topology::Cluster,
            _ => Topology::Standalone,
        }
    }

    /// The server said it is a cluster node: from now on the session speaks cluster.
    pub fn found_cluster(&self) {
        self.cluster.store(true, Ordering::Relaxed);
    }

    /// Where to open a cluster link: the given node first, then every node last seen.
    pub fn cluster_seeds(&self) -> Vec<(String, u16)> {
        let mut seeds = vec![(self.given.host.clone(), self.given.port)];
        if let Ok(known) = self.seeds.lock() {
            seeds.extend(
                known
                    .iter()
                    .filter(|s| !seeds.contains(s))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        seeds
    }

    /// Remembers the nodes of the cluster's slot map.
    pub fn remember_nodes(&self, map: &crate::cluster::SlotMap) {
        let nodes: Vec<(String, u16)> = map
            .ranges
            .iter()
            .flat_map(|r| std::iter::once(&r.primary).chain(r.replicas.iter()))
            .map(|n| (n.host.clone(), n.port))
            .collect();
        if let Ok(mut seeds) = self.seeds.lock() {
            for n in nodes {
                if !seeds.contains(&n) {
                    seeds.push(n);
                }
            }
        }
    }

    /// The data server as last resolved, if it is known.
    pub fn current(&self) -> Option<Current> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    /// The data server now: for Sentinel, asked of the sentinels again.
    ///
    /// # Errors
    /// What [`crate::sentinel::master`] says (no sentinel answered, unknown service), or a
    /// TLS error building the master's client.
    pub async fn resolve(&self) -> Result<Current> {
        if self.given.sentinel().is_none() {
            return self.current().ok_or(Error::NotConnected);
        }
        let master = crate::sentinel::master(&self.given).await?;
        let settings = self.given.at(master.host.as_str(), master.port);
        let nodes = master.replicas.saturating_add(1);
        let kept = self
            .current()
            .filter(|c| c.settings.host == settings.host && c.settings.port == settings.port);
        let current = match kept {
            Some(c) => Current { nodes, ..c },
            None => {
                tracing::info!(
                    "sentinel {} names {} the master",
                    master.sentinel,
                    settings.addr()
                );
                Current {
                    client: crate::tls::client(&settings)?,
                    settings,
                    nodes,
                }
            }
        };
        if let Ok(mut slot) = self.current.lock() {
            *slot = Some(current.clone());
        }
        Ok(current)
    }
}
