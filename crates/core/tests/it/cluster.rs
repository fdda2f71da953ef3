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

/// Opens a [`cluster::ClusterConn`] on `group`, every node's pushes on one channel.
async fn cluster_conn(
    group: &ClusterGroup,
) -> (
    cluster::ClusterConn,
    tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let seed = NodeAddr {
        host: "127.0.0.1".into(),
        port: group.ports()[0],
    };
    let conn = cluster::ClusterConn::open(seed, |addr: NodeAddr| {
        let tx = tx.clone();
        async move {
            let client = redis::Client::open(format!(
                "redis://{}:{}/?protocol=resp3",
                addr.host, addr.port
            ))?;
            let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
        }
    })
    .await
    .unwrap();
    (conn, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_over_many_slots_is_split_by_node_and_answered_in_order() {
    let group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    let (mut conn, _pushes) = cluster_conn(&group).await;
    assert_eq!(conn.nodes().count(), 3);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let users: Vec<String> = (0..30).map(|i| format!("user{i}")).collect();
    for (i, u) in users.iter().enumerate() {
        pipe.cmd("XADD")
            .arg(format!("redchat:{{u:{u}}}:inbox"))
            .arg("*")
            .arg("payload")
            .arg(format!("m{i}"));
        // Keyless: goes with the command before it.
        pipe.cmd("PUBLISH").arg(u).arg("hi");
        pipe.cmd("INCRBY").arg(format!("n:{{u:{u}}}")).arg(i);
    }
    pipe.cmd("SET").arg("plain").arg("x").arg("GET");
    pipe.cmd("HSET").arg("plain").arg("f").arg("v"); // WRONGTYPE, in its place
    let values: Vec<redis::Value> = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(values.len(), users.len() * 3 + 2);
    for (i, _) in users.iter().enumerate() {
        assert!(
            matches!(&values[i * 3], redis::Value::BulkString(_)),
            "an XADD id: {:?}",
            values[i * 3]
        );
        assert_eq!(
            values[i * 3 + 1],
            redis::Value::Int(0),
            "PUBLISH, nobody listening"
        );
        assert_eq!(values[i * 3 + 2], redis::Value::Int(i as i64), "INCRBY {i}");
    }
    assert_eq!(
        values[users.len() * 3],
        redis::Value::Nil,
        "SET … GET of a new key"
    );
    assert!(
        matches!(&values[users.len() * 3 + 1], redis::Value::ServerError(e) if e.code() == "WRONGTYPE"),
        "{:?}",
        values[users.len() * 3 + 1]
    );
    // Single commands route by key too, XREAD by its first stream.
    let n: i64 = redis::cmd("GET")
        .arg("n:{u:user29}")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 29);
    let read: redis::Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg("redchat:{u:user7}:inbox")
        .arg("redchat:{u:user7}:sent")
        .arg("0")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(format!("{read:?}").contains("m7"), "{read:?}");
    assert!(!conn.is_stale());
}

async fn next_push(
    pushes: &mut tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
    kind: redis::PushKind,
) -> redis::PushInfo {
    tokio::time::timeout(WAIT, async {
        loop {
            let p = pushes.recv().await.expect("pushes go on");
            if p.kind == kind {
                return p;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind:?} push"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_slot_answers_moved_marks_the_map_stale_and_unsubscribes_shard_channels() {
    let group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    let (mut conn, mut pushes) = cluster_conn(&group).await;
    let channel = "redchat:{r:team}:live";
    let slot = cluster::slot(channel.as_bytes());
    let (_, mut owner) = conn.node_for(slot).unwrap();
    redis::cmd("SSUBSCRIBE")
        .arg(channel)
        .exec_async(&mut owner)
        .await
        .unwrap();
    let owner_port = group.owner(slot);
    let mut owner_raw = redis::Client::open(format!("redis://127.0.0.1:{owner_port}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let n: u64 = redis::cmd("SPUBLISH")
        .arg(channel)
        .arg("hello shard")
        .query(&mut owner_raw)
        .unwrap();
    assert_eq!(n, 1);
    let message = next_push(&mut pushes, redis::PushKind::SMessage).await;
    assert!(format!("{:?}", message.data).contains("hello shard"));

    let to = conn
        .map()
        .ranges
        .iter()
        .map(|r| r.primary.port)
        .find(|p| *p != owner_port)
        .unwrap();
    let group = tokio::task::spawn_blocking(move || {
        group.migrate_slot(slot, to);
        group
    })
    .await
    .unwrap();
    // Redis drops the shard subscription itself: the push is what a session must follow.
    next_push(&mut pushes, redis::PushKind::SUnsubscribe).await;
    let answer: redis::RedisResult<redis::Value> = redis::cmd("XADD")
        .arg("redchat:{r:team}:log")
        .arg("*")
        .arg("payload")
        .arg("x")
        .query_async(&mut conn)
        .await;
    assert!(
        answer.as_ref().is_err_and(|e| e.code() == Some("MOVED")),
        "{answer:?}"
    );
    assert!(conn.is_stale(), "MOVED marks the map stale");
    // A fresh connection routes to the new owner.
    let (mut fresh, _p) = cluster_conn(&group).await;
    let _: String = redis::cmd("XADD")
        .arg("redchat:{r:team}:log")
        .arg("*")
        .arg("payload")
        .arg("x")
        .query_async(&mut fresh)
        .await
        .unwrap();
    assert!(!fresh.is_stale());
}
