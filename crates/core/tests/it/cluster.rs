//! Redis Cluster against a real 3-primary, 3-replica cluster: the slot function and slot
//! map agree with the servers, pipelines and shard pub/sub route right, and sessions chat in
//! a DM and a room (every 50 ms) through a primary killed with SIGKILL, a slot migration of
//! bob's inbox and a whole-node restart, showing every message exactly once.

use std::time::Duration;

use redchat_core::cluster::{self, NodeAddr};
use redchat_core::testing::ClusterGroup;
use redchat_core::{Delivery, Event, Events, Session, SessionConfig, State, Topology};

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

fn config(url: &str, user: &str, delivery: Delivery) -> SessionConfig {
    fault_config(url, user, delivery, None)
}

async fn start(url: &str, user: &str, delivery: Delivery) -> (Session, Events) {
    Session::connect(config(url, user, delivery))
        .await
        .unwrap_or_else(|e| panic!("{user} should connect to the cluster: {e}"))
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGKILL the primary serving bob's inbox; its replica is promoted.
    KillInboxPrimary,
    /// Move bob's inbox slot (and its keys) to another primary.
    MigrateInbox,
    /// Restart the primary serving the room's slot (SIGKILL, start again at once).
    RestartRoomNode,
}

async fn chat_through(fault: Fault, delivery: Delivery) {
    let group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    let url = group.url();
    let (alice, mut a) = start(&url, "alice", delivery).await;
    let (bob, mut b) = start(&url, "bob", delivery).await;
    let first = next_matching(
        &mut b,
        "bob connected",
        |e| matches!(e, Event::Status(s) if s.state == State::Connected),
    )
    .await;
    let Event::Status(first) = first else {
        unreachable!()
    };
    assert_eq!(first.topology, Topology::Cluster, "{first:?}");
    assert_eq!(first.nodes, 6, "3 primaries and 3 replicas");
    both_in_the_room(&alice, &mut a, &bob, &mut b).await;

    chat(&alice, 0..20).await;
    let inbox = cluster::slot(b"redchat:{u:bob}:inbox");
    let room = cluster::slot(b"redchat:{r:team}:log");
    let faulted = tokio::task::spawn_blocking(move || {
        let mut group = group;
        match fault {
            Fault::KillInboxPrimary => {
                let owner = group.owner(inbox);
                group.node(owner).kill();
            }
            Fault::MigrateInbox => {
                let owner = group.owner(inbox);
                let to = group
                    .nodes()
                    .iter()
                    .find(|n| n.primary && !n.failed && n.port != owner && !n.slots.is_empty())
                    .map(|n| n.port)
                    .unwrap();
                group.migrate_slot(inbox, to);
            }
            Fault::RestartRoomNode => {
                let owner = group.owner(room);
                group.node(owner).restart();
            }
        }
        group.wait_ok(EXCHANGE);
        group
    });
    chat(&alice, 20..60).await;
    let group = faulted.await.unwrap();
    // Both sessions back (a fresh link each, resubscribed on the slots' owners). Durable:
    // bob's events are all checked below, his stream catches him up.
    let back = |e: &Event| matches!(e, Event::Status(s) if s.state == State::Connected);
    until(&mut a, "alice connected again", back).await;
    if delivery == Delivery::LiveOnly {
        until(&mut b, "bob connected again", back).await;
    }
    chat(&alice, 60..70).await;
    let all: Vec<String> = (0..70).map(shown).collect();
    if delivery == Delivery::Durable {
        expect_in_order(&mut b, &all).await;
        if alice.queued() > 0 {
            until(&mut a, "an empty outbox", |_| alice.queued() == 0).await;
        }
    } else {
        // Live only: what was sent after both were back arrives; nothing twice.
        let after: Vec<String> = (60..70).map(shown).collect();
        let mut seen = std::collections::HashSet::new();
        until(&mut b, "the messages after the fault", |e| {
            if let Event::Chat(m) = e {
                assert!(seen.insert(m.content.clone()), "shown twice: {}", m.content);
            }
            after.iter().all(|m| seen.contains(m))
        })
        .await;
    }
    assert_live_at(group.owner(inbox), &mut b, delivery == Delivery::Durable).await;
    assert!(bob.stats().reconnects >= 1 || matches!(fault, Fault::RestartRoomNode));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_primary_of_bobs_inbox_killed_loses_nothing() {
    chat_through(Fault::KillInboxPrimary, Delivery::Durable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_slot_migration_of_bobs_inbox_loses_nothing() {
    chat_through(Fault::MigrateInbox, Delivery::Durable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_restart_loses_nothing() {
    chat_through(Fault::RestartRoomNode, Delivery::Durable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_live_only_through_a_primary_kill_delivers_what_follows() {
    chat_through(Fault::KillInboxPrimary, Delivery::LiveOnly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_and_a_room_message_on_a_cluster_count_their_receivers() {
    let group = tokio::task::spawn_blocking(ClusterGroup::start)
        .await
        .unwrap();
    let url = group.url();
    for delivery in [Delivery::Durable, Delivery::LiveOnly] {
        let (alice, mut a) = start(&url, "alice", delivery).await;
        let (bob, mut b) = start(&url, "bob", delivery).await;
        both_in_the_room(&alice, &mut a, &bob, &mut b).await;
        // PUBLISH counts one node's subscribers: it runs where bob subscribes his inbox.
        let report = alice
            .send(redchat_core::parse_line("@bob counted?").unwrap())
            .await
            .unwrap();
        assert_eq!(report.receivers, 1, "{delivery:?}: bob is listening");
        assert_eq!(next_chat(&mut b, "the DM").await.content, "@bob counted?");
        // A room's SPUBLISH counts its shard's subscribers: alice and bob.
        let report = alice
            .send(redchat_core::parse_line("#team counted too?").unwrap())
            .await
            .unwrap();
        assert_eq!(report.receivers, 2, "{delivery:?}: both members");
        assert_eq!(
            next_chat(&mut b, "the room message").await.content,
            "counted too?"
        );
        alice.shutdown(Duration::from_secs(2)).await;
        bob.shutdown(Duration::from_secs(2)).await;
    }
}
