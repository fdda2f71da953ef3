//! Sentinel: a real master, replica and three sentinels; the master killed with SIGKILL
//! while alice chats with bob in a DM and a room every 50 ms. Durable mode shows every
//! message exactly once and ends connected to the promoted replica; live-only mode loses
//! only what alice was not told was delivered.

use std::collections::HashSet;
use std::time::Duration;

use redchat_core::testing::{RedisServer, SentinelGroup};
use redchat_core::{
    ConnectionSettings, Delivery, Error, Event, Events, OutgoingState, Session, SessionConfig,
    State, Topology, Username, parse_line,
};

use crate::support::*;

/// Bound for a whole exchange across a failover (a bound, not a timing goal).
const EXCHANGE: Duration = Duration::from_secs(60);

fn config(url: &str, user: &str, delivery: Delivery) -> SessionConfig {
    let mut s = settings(url);
    s.connect_timeout = Duration::from_secs(2);
    s.response_timeout = Duration::from_secs(1);
    let mut config = SessionConfig::new(s, Username::parse(user).unwrap());
    config.heartbeat = Duration::from_millis(500);
    config.delivery = delivery;
    config
}

async fn start(url: &str, user: &str, delivery: Delivery) -> (Session, Events) {
    Session::connect(config(url, user, delivery))
        .await
        .unwrap_or_else(|e| panic!("{user} should connect behind Sentinel: {e}"))
}

/// Line `i` of the chat: even ones to bob, odd ones to the room.
fn line(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!("@bob d-{i:03}")
    } else {
        format!("#team r-{i:03}")
    }
}

/// What bob is shown for line `i` (a room line without its `#team` prefix).
fn shown(i: usize) -> String {
    let l = line(i);
    match l.strip_prefix("#team ") {
        Some(rest) => rest.to_string(),
        None => l,
    }
}

/// Submits lines `range` 50 ms apart (the chat's pace, not a synchronisation).
async fn chat(alice: &Session, range: std::ops::Range<usize>) {
    for i in range {
        alice.submit(parse_line(&line(i)).unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads bob's events until every expected message arrived; fails on a duplicate, an
/// unexpected message or a wrong order within a conversation.
async fn expect_exactly(events: &mut Events, expected: &[String]) {
    let mut got: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let result = tokio::time::timeout(EXCHANGE, async {
        while got.len() < expected.len() {
            match events.recv().await {
                Some(Event::Chat(m)) => {
                    assert!(seen.insert(m.content.clone()), "shown twice: {}", m.content);
                    assert!(expected.contains(&m.content), "unexpected: {}", m.content);
                    got.push(m.content);
                }
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "only {} of {} messages arrived: missing {:?}",
        got.len(),
        expected.len(),
        expected
            .iter()
            .filter(|e| !got.contains(e))
            .collect::<Vec<_>>()
    );
    for prefix in ["@bob d-", "r-"] {
        let of = |v: &[String]| -> Vec<String> {
            v.iter()
                .filter(|m| m.starts_with(prefix))
                .cloned()
                .collect()
        };
        assert_eq!(of(&got), of(expected), "in order within {prefix}");
    }
}

/// Hands every event to `f` until it returns true.
async fn until(events: &mut Events, what: &str, mut f: impl FnMut(&Event) -> bool) {
    let found = tokio::time::timeout(EXCHANGE, async {
        loop {
            match events.recv().await {
                Some(e) if f(&e) => return,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {EXCHANGE:?}"));
}

/// Waits for a Connected status naming `port`; returns it.
async fn connected_to(events: &mut Events, port: u16) -> redchat_core::Status {
    let addr = format!("127.0.0.1:{port}");
    let found = tokio::time::timeout(EXCHANGE, async {
        loop {
            match events.recv().await {
                Some(Event::Status(s)) if s.state == State::Connected && s.addr == addr => {
                    return s;
                }
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("not connected to {addr} within {EXCHANGE:?}"))
}

/// Bob's session still receives on the new master: a plain-text PUBLISH to his inbox and
/// an entry appended to his inbox stream both arrive, and no late duplicate before them.
async fn assert_live(port: u16, events: &mut Events, durable: bool) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut raw = client.get_connection().unwrap();
    let probe = format!("probe-{}", redchat_core::wire::new_id());
    let stream_probe = format!("{probe}-stream");
    if durable {
        let _: String = redis::cmd("XADD")
            .arg("redchat:{u:bob}:inbox")
            .arg("*")
            .arg("payload")
            .arg(&stream_probe)
            .query(&mut raw)
            .unwrap();
    }
    let (mut live, mut stored) = (false, !durable);
    let result = tokio::time::timeout(EXCHANGE, async {
        while !(live && stored) {
            if !live {
                let _: u64 = redis::cmd("PUBLISH")
                    .arg("bob")
                    .arg(&probe)
                    .query(&mut raw)
                    .unwrap();
            }
            // Bounded read between probes; the probe itself is the event we wait for.
            let Ok(event) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            else {
                continue;
            };
            match event {
                Some(Event::Plain(p)) if p.text == probe => live = true,
                Some(Event::Plain(p)) if p.text == stream_probe => stored = true,
                Some(Event::Chat(m)) => panic!("late or duplicate message: {}", m.content),
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "bob not live on the new master within {EXCHANGE:?} (live {live}, stream {stored})"
    );
}

async fn both_in_the_room(alice: &Session, a: &mut Events, bob: &Session, b: &mut Events) {
    alice.join("#team").await.unwrap();
    joined(a, "#team").await;
    bob.join("#team").await.unwrap();
    joined(b, "#team").await;
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
    expect_exactly(&mut b, &expected).await;
    let status = connected_to(&mut a, new).await;
    assert_eq!(status.topology, Topology::Sentinel);
    if alice.queued() > 0 {
        // Bob has everything; the last confirmations may still be on their way.
        until(&mut a, "an empty outbox", |_| alice.queued() == 0).await;
    }
    assert!(alice.stats().reconnects >= 1 && bob.stats().reconnects >= 1);
    assert_live(new, &mut b, true).await;
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
    assert_live(new, &mut b, false).await;
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
