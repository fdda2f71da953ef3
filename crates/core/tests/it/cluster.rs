//! Redis Cluster groundwork against a real 3-primary, 3-replica cluster: the slot function
//! and slot map agree with the servers, the test cluster's faults (a primary killed, a slot
//! migrated) do what the cluster tests will rely on, and a session refuses a cluster with a
//! clear error until it speaks cluster.

use std::time::Duration;

use redchat_core::cluster::{self, NodeAddr};
use redchat_core::testing::ClusterGroup;
use redchat_core::{Error, Session, SessionConfig, Username};

use crate::support::*;

async fn slot_map_of(port: u16) -> cluster::SlotMap {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let asked = NodeAddr {
        host: "127.0.0.1".into(),
        port,
    };
    cluster::slot_map(&mut conn, &asked).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_and_the_slot_map_agree_with_a_real_cluster_through_a_failover_and_a_migration() {
    let mut group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    for key in [
        "redchat:{u:bob}:inbox",
        "redchat:{u:alice}:sent",
        "redchat:{r:team}:log",
        "bob",
        "messages",
        "a{b}c",
        "x{}y",
    ] {
        assert_eq!(cluster::slot(key.as_bytes()), group.slot(key), "{key}");
    }
    let map = slot_map_of(group.ports()[0]).await;
    assert_eq!(map.uncovered(), 0);
    assert_eq!(map.node_counts(), (3, 3));
    let inbox = cluster::slot(b"redchat:{u:bob}:inbox");
    let owner = group.owner(inbox);
    assert_eq!(map.primary(inbox).map(|n| n.port), Some(owner));

    // A slot migration moves the slot and its keys; every node's map follows.
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg("kept")
        .query(&mut group.node(owner).raw())
        .unwrap();
    let to = map
        .ranges
        .iter()
        .map(|r| r.primary.port)
        .find(|p| *p != owner)
        .unwrap();
    let group = tokio::task::spawn_blocking(move || {
        group.migrate_slot(inbox, to);
        group
    })
    .await
    .unwrap();
    assert_eq!(group.owner(inbox), to);
    let mut group = group;
    let len: u64 = redis::cmd("XLEN")
        .arg("redchat:{u:bob}:inbox")
        .query(&mut group.node(to).raw())
        .unwrap();
    assert_eq!(len, 1, "the stream moved with its slot");
    assert_eq!(
        slot_map_of(owner).await.primary(inbox).map(|n| n.port),
        Some(to)
    );

    // The primary owning it killed: its replica takes over.
    group.node(to).kill();
    let group = tokio::task::spawn_blocking(move || {
        group.wait_ok(Duration::from_secs(60));
        group
    })
    .await
    .unwrap();
    let promoted = group.owner(inbox);
    assert_ne!(promoted, to);
    assert_eq!(
        slot_map_of(promoted).await.primary(inbox).map(|n| n.port),
        Some(promoted)
    );
}

#[tokio::test]
async fn a_session_on_a_cluster_is_refused_with_a_clear_error() {
    let group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    let config = SessionConfig::new(settings(&group.url()), Username::parse("alice").unwrap());
    let err = Session::connect(config)
        .await
        .expect_err("not a server Redchat can chat on yet");
    assert!(matches!(err, Error::UnsupportedServer(_)), "{err:?}");
    assert!(err.to_string().contains("Cluster"), "{err}");
    // Forced by the URL on a standalone server: refused before connecting.
    let server = RedisServer::start();
    let forced = SessionConfig::new(
        settings(&format!("{}?cluster=true", server.url())),
        Username::parse("alice").unwrap(),
    );
    let err = Session::connect(forced).await.expect_err("cluster=true");
    assert!(matches!(err, Error::UnsupportedServer(_)), "{err:?}");
}
