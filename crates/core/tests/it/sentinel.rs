//! Sentinel: a real master, replica and three sentinels; the master killed with SIGKILL
//! while alice chats with bob in a DM and a room every 50 ms. Durable mode shows every
//! message exactly once and ends connected to the promoted replica; live-only mode loses
//! only what alice was not told was delivered.

use std::collections::HashSet;

use redchat_core::testing::{RedisServer, SentinelGroup};
use redchat_core::{
    ConnectionSettings, Delivery, Error, Event, Events, OutgoingState, Session, SessionConfig,
    State, Topology,
};

use crate::support::*;

fn config(url: &str, user: &str, delivery: Delivery) -> SessionConfig {
    fault_config(url, user, delivery, None)
}

async fn start(url: &str, user: &str, delivery: Delivery) -> (Session, Events) {
    Session::connect(config(url, user, delivery))
        .await
        .unwrap_or_else(|e| panic!("{user} should connect behind Sentinel: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_master_killed_loses_nothing_and_follows_the_new_master() {
    let mut group = SentinelGroup::start();
    let url = group.url();
    let old = group.master_port();
    let (alice, mut a) = start(&url, "alice", Delivery::Durable).await;
    let (bob, mut b) = start(&url, "bob", Delivery::Durable).await;
    let first = connected_to(&mut b, old).await;
    assert_eq!(first.topology, Topology::Sentinel);
    assert_eq!(first.nodes, 2, "the master and its replica");
    both_in_the_room(&alice, &mut a, &bob, &mut b).await;

    chat(&alice, 0..20).await;
    group.master().kill();
    // The chat goes on while the sentinels notice and promote the replica.
    let failover = tokio::task::spawn_blocking(move || {
        let new = group.wait_failover(old, EXCHANGE);
        (group, new)
    });
    chat(&alice, 20..80).await;
    let (_group, new) = failover.await.unwrap();
    chat(&alice, 80..90).await;

    let expected: Vec<String> = (0..90).map(shown).collect();
    expect_in_order(&mut b, &expected).await;
    let status = connected_to(&mut a, new).await;
    assert_eq!(status.topology, Topology::Sentinel);
    if alice.queued() > 0 {
        // Bob has everything; the last confirmations may still be on their way.
        until(&mut a, "an empty outbox", |_| alice.queued() == 0).await;
    }
    assert!(alice.stats().reconnects >= 1 && bob.stats().reconnects >= 1);
    assert_live_at(new, &mut b, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_live_only_loses_only_what_was_not_delivered_live() {
    let mut group = SentinelGroup::start();
    let url = group.url();
    let old = group.master_port();
    let (alice, mut a) = start(&url, "alice", Delivery::LiveOnly).await;
    let (bob, mut b) = start(&url, "bob", Delivery::LiveOnly).await;
    both_in_the_room(&alice, &mut a, &bob, &mut b).await;
    chat(&alice, 0..20).await;
    group.master().kill();
    let failover = tokio::task::spawn_blocking(move || {
        let new = group.wait_failover(old, EXCHANGE);
        (group, new)
    });
    chat(&alice, 20..60).await;
    let (_group, new) = failover.await.unwrap();
    // What alice is told about each message decides what bob must have.
    let (mut delivered, mut settled) = (Vec::new(), 0);
    let mut outcome = |e: &Event| {
        if let Event::Outgoing(o) = e {
            match o.state {
                OutgoingState::Delivered => {
                    delivered.push(o.message.content.clone());
                    settled += 1;
                }
                OutgoingState::NotDelivered => settled += 1,
                OutgoingState::Queued => {}
                other => panic!("unexpected state in live-only mode: {other:?}"),
            }
        }
        settled
    };
    let on_new = |e: &Event| matches!(e, Event::Status(s) if s.state == State::Connected && s.addr == format!("127.0.0.1:{new}"));
    until(&mut a, "alice on the new master", |e| {
        outcome(e);
        on_new(e)
    })
    .await;
    let mut shown_to_bob = Vec::new();
    until(&mut b, "bob on the new master", |e| {
        if let Event::Chat(m) = e {
            shown_to_bob.push(m.content.clone());
        }
        on_new(e)
    })
    .await;
    chat(&alice, 60..70).await;
    until(&mut a, "every message settled", |e| outcome(e) == 70).await;
    let after: Vec<String> = (60..70).map(shown).collect();
    assert!(
        after.iter().all(|m| delivered.contains(m)),
        "everything sent after the failover was delivered live: {delivered:?}"
    );
    // A DM reported delivered reached bob (he is its channel's only subscriber). A room's
    // receiver count includes alice herself, so a room line may be "delivered" while bob
    // was still finding the new master: only those sent after both were back must arrive.
    let mut required: HashSet<String> = delivered
        .iter()
        .filter(|m| m.starts_with("@bob "))
        .cloned()
        .collect();
    required.extend(after.iter().cloned());
    let mut seen: HashSet<String> = HashSet::new();
    for m in &shown_to_bob {
        assert!(seen.insert(m.clone()), "shown twice: {m}");
    }
    until(&mut b, "every message bob must have", |e| {
        if let Event::Chat(m) = e {
            assert!(seen.insert(m.content.clone()), "shown twice: {}", m.content);
        }
        required.is_subset(&seen)
    })
    .await;
    assert!(
        seen.iter().all(|m| delivered.contains(m)),
        "bob was shown only what alice was told was delivered"
    );
    assert_live_at(new, &mut b, false).await;
}

#[tokio::test]
async fn a_sentinel_given_as_a_plain_server_is_refused_with_the_fix() {
    let group = SentinelGroup::start();
    let port = group.sentinel_ports()[0];
    let err = Session::connect(config(
        &format!("redis://127.0.0.1:{port}"),
        "alice",
        Delivery::Durable,
    ))
    .await
    .expect_err("a sentinel is not a data server");
    let text = err.to_string();
    assert!(
        text.contains("redis+sentinel://") && text.contains("Sentinel"),
        "says how to connect instead: {text}"
    );
}

#[tokio::test]
async fn an_unknown_service_names_what_the_sentinels_watch() {
    let group = SentinelGroup::start();
    let port = group.sentinel_ports()[0];
    let err = Session::connect(config(
        &format!("redis+sentinel://127.0.0.1:{port}/nosuch"),
        "alice",
        Delivery::Durable,
    ))
    .await
    .expect_err("no such service");
    assert!(matches!(err, Error::UnsupportedServer(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("nosuch") && text.contains(redchat_core::testing::SENTINEL_SERVICE),
        "names the service asked for and the ones watched: {text}"
    );
}

#[tokio::test]
async fn no_sentinel_answering_is_unreachable() {
    let closed = redchat_core::testing::free_port();
    let err = Session::connect(config(
        &format!("redis+sentinel://127.0.0.1:{closed}/redchat"),
        "alice",
        Delivery::Durable,
    ))
    .await
    .expect_err("nothing listens there");
    assert!(err.is_retryable(), "a later try may work: {err:?}");
    assert!(err.to_string().contains(&closed.to_string()), "{err}");
}

#[tokio::test]
async fn a_replica_given_as_the_server_is_not_written_to() {
    // Naming a replica directly: Redchat must not try to chat on a read-only server.
    let master = RedisServer::start();
    let replica =
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &master.port().to_string()]);
    let result = Session::connect(config(&replica.url(), "alice", Delivery::Durable)).await;
    let settings = ConnectionSettings::parse(&replica.url()).unwrap().settings;
    assert_eq!(settings.sentinel(), None);
    match result {
        Err(e) => assert!(e.to_string().contains("replica"), "{e}"),
        Ok(_) => panic!("connected to a read-only replica as if it were the master"),
    }
}
