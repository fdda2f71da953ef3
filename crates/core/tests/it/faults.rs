//! Fault tests: real redis-server processes, real kills, a real TCP proxy for network faults.
//!
//! Durable mode: every message sent is shown exactly once by the recipient, in order per
//! sender, and the session ends connected (proved by a probe through both the pub/sub
//! subscription and the inbox stream). Live-only mode: the session ends connected and
//! resubscribed, and the recipient got exactly the messages the sender was told were
//! delivered live.

use std::path::PathBuf;
use std::time::Duration;

use redchat_core::testing::Proxy;
use redchat_core::{
    Delivery, Event, Events, OutgoingState, Session, SessionConfig, State, parse_line,
};

use crate::support::*;

/// Bound for a whole exchange (a 30 s outage test waits longer explicitly).
const EXCHANGE: Duration = Duration::from_secs(60);

fn config(url: &str, user: &str, delivery: Delivery, data_dir: Option<PathBuf>) -> SessionConfig {
    fault_config(url, user, delivery, data_dir)
}

async fn start(url: &str, user: &str, delivery: Delivery) -> (Session, Events) {
    Session::connect(config(url, user, delivery, None))
        .await
        .unwrap_or_else(|e| panic!("{user} should connect: {e}"))
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redchat-faults-{}", redchat_core::wire::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Queues `count` numbered messages from `from` to bob; returns their texts.
async fn send(from: &Session, first: usize, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for i in first..first + count {
        let text = format!("@bob m-{i:03}");
        from.submit(parse_line(&text).unwrap()).await.unwrap();
        texts.push(text);
    }
    texts
}

/// The session is connected and both delivery paths work: a plain-text probe PUBLISHed to the
/// inbox and one appended to the inbox stream both arrive, and no chat message (a late
/// duplicate) arrives before them. The live probe is repeated until it arrives: PUBLISH
/// may still count a dead subscription the server has not dropped yet.
async fn assert_live(server_url: &str, events: &mut Events, user: &str, durable: bool) {
    let client = redis::Client::open(server_url).unwrap();
    let mut raw = client.get_connection().unwrap();
    let probe = format!("probe-{}", redchat_core::wire::new_id());
    let stream_probe = format!("{probe}-stream");
    if durable {
        let _: String = redis::cmd("XADD")
            .arg(format!("redchat:{{u:{user}}}:inbox"))
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
                    .arg(user)
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
        "session not live again within {EXCHANGE:?} (live {live}, stream {stored})"
    );
}

async fn wait_state(events: &mut Events, state: State) {
    next_matching(
        events,
        &format!("{state:?} status"),
        |e| matches!(e, Event::Status(s) if s.state == state),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_of_either_connection_loses_nothing() {
    let server = RedisServer::start();
    let (alice, _alice_events) = start(&server.url(), "alice", Delivery::Durable).await;
    let (_bob, mut bob) = start(&server.url(), "bob", Delivery::Durable).await;
    let mut raw = server.raw();
    let mut expected = send(&alice, 0, 10).await;
    // The subscribed (pub/sub) connections: both sessions' main links.
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut raw)
        .unwrap();
    assert_eq!(killed, 2, "alice's and bob's main links");
    expected.extend(send(&alice, 10, 10).await);
    // The command-only connections: the inbox readers' blocking XREAD connections.
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut raw)
        .unwrap();
    assert!(killed >= 2, "alice's and bob's inbox readers ({killed})");
    expected.extend(send(&alice, 20, 10).await);
    expect_in_order(&mut bob, &expected).await;
    assert_live(&server.url(), &mut bob, "bob", true).await;
}

async fn server_killed_and_restarted(down: Duration) {
    let mut server = RedisServer::start_persistent();
    let url = server.url();
    let (alice, mut alice_events) = start(&url, "alice", Delivery::Durable).await;
    let (bob_session, mut bob) = start(&url, "bob", Delivery::Durable).await;
    let mut expected = send(&alice, 0, 5).await;
    server.kill();
    wait_state(&mut alice_events, State::Reconnecting).await;
    // Sent while the server is down: kept in the outbox.
    expected.extend(send(&alice, 5, 5).await);
    assert!(alice.queued() >= 5, "queued while down");
    tokio::time::sleep(down).await; // the outage itself
    server.restart();
    expected.extend(send(&alice, 10, 5).await);
    expect_in_order(&mut bob, &expected).await;
    assert_live(&url, &mut bob, "bob", true).await;
    assert_eq!(alice.queued(), 0);
    assert!(bob_session.stats().reconnects >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_after_1s() {
    server_killed_and_restarted(Duration::from_secs(1)).await;
}

/// Longer than redis-rs' own reconnect budget (6 tries): the session never gives up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_after_30s() {
    server_killed_and_restarted(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_link_is_detected_and_recovered() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port());
    let (alice, _alice_events) = start(&server.url(), "alice", Delivery::Durable).await;
    let (_bob, mut bob) = start(&proxy.url(), "bob", Delivery::Durable).await;
    let mut expected = send(&alice, 0, 3).await;
    expect_in_order(&mut bob, &expected).await;
    proxy.blackhole(true);
    // Nothing closes: only the heartbeat can tell.
    wait_state(&mut bob, State::Reconnecting).await;
    let more = send(&alice, 3, 5).await;
    proxy.blackhole(false);
    expected = more;
    expect_in_order(&mut bob, &expected).await;
    assert_live(&server.url(), &mut bob, "bob", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_the_sender_dying_while_offline() {
    let mut server = RedisServer::start_persistent();
    let url = server.url();
    let data = temp_dir();
    let (_bob, mut bob) = start(&url, "bob", Delivery::Durable).await;
    let (alice, mut alice_events) =
        Session::connect(config(&url, "alice", Delivery::Durable, Some(data.clone())))
            .await
            .unwrap();
    server.kill();
    wait_state(&mut alice_events, State::Reconnecting).await;
    let expected = send(&alice, 0, 5).await;
    // The process "dies": no shutdown, the session is simply gone.
    drop(alice);
    drop(alice_events);
    server.restart();
    let (again, mut again_events) =
        Session::connect(config(&url, "alice", Delivery::Durable, Some(data.clone())))
            .await
            .unwrap();
    let mut queued = 0;
    let mut settled = 0;
    tokio::time::timeout(EXCHANGE, async {
        while settled < expected.len() {
            if let Some(Event::Outgoing(o)) = again_events.recv().await {
                match o.state {
                    OutgoingState::Queued => queued += 1,
                    OutgoingState::Delivered | OutgoingState::Stored => settled += 1,
                    other => panic!("unexpected state {other:?}"),
                }
            }
        }
    })
    .await
    .expect("the restarted sender sends its outbox");
    assert_eq!(
        queued, 5,
        "the restarted session shows what it found in the outbox"
    );
    expect_in_order(&mut bob, &expected).await;
    assert_eq!(again.queued(), 0);
    again.shutdown(Duration::from_secs(2)).await;
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_recipient_gets_everything_on_next_connect() {
    let server = RedisServer::start();
    let (alice, _alice_events) = start(&server.url(), "alice", Delivery::Durable).await;
    for i in 0..12 {
        let report = alice
            .send(parse_line(&format!("@bob m-{i:03}")).unwrap())
            .await
            .unwrap();
        assert_eq!(
            (report.receivers, report.stored),
            (0, true),
            "stored for later"
        );
    }
    let expected: Vec<String> = (0..12).map(|i| format!("@bob m-{i:03}")).collect();
    let (bob_session, mut bob) = start(&server.url(), "bob", Delivery::Durable).await;
    expect_in_order(&mut bob, &expected).await;
    let caught = next_matching(&mut bob, "caught-up marker", |e| {
        matches!(e, Event::CaughtUp { .. })
    })
    .await;
    assert_eq!(caught, Event::CaughtUp { count: 12 });
    assert_eq!(bob_session.stats().caught_up, 12);
    assert_live(&server.url(), &mut bob, "bob", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_without_persistence_is_handled_without_a_duplicate_flood() {
    let mut server = RedisServer::start();
    let url = server.url();
    let data = temp_dir();
    let (alice, _alice_events) = start(&url, "alice", Delivery::Durable).await;
    let bob_config = config(&url, "bob", Delivery::Durable, Some(data.clone()));
    let (bob_session, mut bob) = Session::connect(bob_config.clone()).await.unwrap();
    let first = send(&alice, 0, 5).await;
    expect_in_order(&mut bob, &first).await;
    let seen = r#"{"Id":0,"Sender":"carol","Content":"@bob seen before","ReceivedAt":"0001-01-01T00:00:00","MessageId":"seen-1"}"#;
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(seen)
        .query(&mut server.raw())
        .unwrap();
    expect_in_order(&mut bob, &["@bob seen before".to_string()]).await;

    // Live restart, no persistence: the stream is gone, the cursor points past nothing.
    server.restart();
    let second = send(&alice, 5, 5).await;
    expect_in_order(&mut bob, &second).await;
    assert_live(&url, &mut bob, "bob", true).await;
    bob_session.shutdown(Duration::from_secs(2)).await;

    // Restored from an old backup: the stream's ids are all below bob's cursor, and it holds
    // a message bob has already shown next to one he has not.
    server.restart();
    let mut raw = server.raw();
    let new = r#"{"Id":0,"Sender":"carol","Content":"@bob from the backup","ReceivedAt":"0001-01-01T00:00:00","MessageId":"backup-1"}"#;
    // Sent long before bob's cursor: read back then, even if its id is no longer remembered.
    let old_unremembered = r#"{"Id":0,"Sender":"carol","Content":"@bob from 2020","ReceivedAt":"0001-01-01T00:00:00","MessageId":"old-1","SentAt":"2020-01-01T00:00:00Z"}"#;
    for (id, payload) in [("1-1", seen), ("1-2", old_unremembered), ("1-3", new)] {
        let _: String = redis::cmd("XADD")
            .arg("redchat:{u:bob}:inbox")
            .arg(id)
            .arg("payload")
            .arg(payload)
            .query(&mut raw)
            .unwrap();
    }
    let (again, mut bob) = Session::connect(bob_config).await.unwrap();
    next_matching(&mut bob, "reset notice", |e| {
        matches!(e, Event::Notice { .. })
    })
    .await;
    expect_in_order(&mut bob, &["@bob from the backup".to_string()]).await;
    assert_live(&url, &mut bob, "bob", true).await;
    assert_eq!(
        again.stats().duplicates_hidden,
        2,
        "the already shown messages stayed hidden (by id, and by send time)"
    );
    again.shutdown(Duration::from_secs(2)).await;
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_only_faults_lose_exactly_what_was_not_delivered_live() {
    let mut server = RedisServer::start();
    let url = server.url();
    let (alice, mut alice_events) = start(&url, "alice", Delivery::LiveOnly).await;
    let (bob_session, mut bob) = start(&url, "bob", Delivery::LiveOnly).await;
    assert_eq!(bob_session.delivery(), Delivery::LiveOnly);
    let mut raw = server.raw();
    let mut sent = send(&alice, 0, 5).await;
    let _: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut raw)
        .unwrap();
    sent.extend(send(&alice, 5, 5).await);
    server.restart();
    sent.extend(send(&alice, 10, 5).await);
    // What alice was told about each message decides what bob must have.
    let mut delivered = Vec::new();
    let mut settled = 0;
    tokio::time::timeout(EXCHANGE, async {
        while settled < sent.len() {
            if let Some(Event::Outgoing(o)) = alice_events.recv().await {
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
        }
    })
    .await
    .expect("every message settles");
    expect_in_order(&mut bob, &delivered).await;
    assert_live(&url, &mut bob, "bob", false).await;
}

/// Live-only on a black-holed link: the server still counts bob's dead subscription, so
/// alice is told "delivered" for messages bob never gets. That is the documented limit of
/// live-only delivery; the session itself recovers and receives what comes after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_only_black_hole_loses_what_the_dead_link_was_sent() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port());
    let (alice, _alice_events) = start(&server.url(), "alice", Delivery::LiveOnly).await;
    let (_bob, mut bob) = start(&proxy.url(), "bob", Delivery::LiveOnly).await;
    proxy.blackhole(true);
    wait_state(&mut bob, State::Reconnecting).await;
    for i in 0..3 {
        let report = alice
            .send(parse_line(&format!("@bob lost-{i}")).unwrap())
            .await
            .unwrap();
        assert_eq!(report.receivers, 1, "the server still counts the dead link");
        assert!(!report.stored);
    }
    proxy.blackhole(false);
    wait_state(&mut bob, State::Connected).await;
    let after = send(&alice, 0, 3).await;
    expect_in_order(&mut bob, &after).await;
    assert_live(&server.url(), &mut bob, "bob", false).await;
}

/// Redis refusing a message: a refusal that passes (out of memory) keeps it queued and says
/// why; a permanent one (the inbox key has another type) fails it at once with the reason,
/// and a retry after the cause is fixed delivers it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_wait_or_fail_visibly_and_can_be_retried() {
    let server = RedisServer::start();
    let (alice, mut alice_events) = start(&server.url(), "alice", Delivery::Durable).await;
    let (_bob, mut bob) = start(&server.url(), "bob", Delivery::Durable).await;
    let mut raw = server.raw();
    let outgoing = |state: OutgoingState| move |e: &Event| matches!(e, Event::Outgoing(o) if o.state == state && o.reason.is_some());

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut raw)
        .unwrap();
    let first = send(&alice, 0, 1).await;
    let Event::Outgoing(waiting) = next_matching(
        &mut alice_events,
        "refused for now",
        outgoing(OutgoingState::Queued),
    )
    .await
    else {
        unreachable!()
    };
    assert!(waiting.reason.unwrap().contains("OOM"), "says why it waits");
    assert_eq!(alice.queued(), 1, "still in the outbox");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query(&mut raw)
        .unwrap();
    expect_in_order(&mut bob, &first).await;

    let _: () = redis::cmd("SET")
        .arg("redchat:{u:bob}:inbox")
        .arg("not a stream")
        .query(&mut raw)
        .unwrap();
    let message = alice
        .submit(parse_line("@bob m-001").unwrap())
        .await
        .unwrap();
    let Event::Outgoing(failed) =
        next_matching(&mut alice_events, "failed", outgoing(OutgoingState::Failed)).await
    else {
        unreachable!()
    };
    assert_eq!(failed.message.id, message.id);
    assert!(failed.reason.unwrap().contains("WRONGTYPE"));
    assert_eq!(alice.queued(), 0, "a failed message leaves the outbox");
    let _: () = redis::cmd("DEL")
        .arg("redchat:{u:bob}:inbox")
        .query(&mut raw)
        .unwrap();
    alice.retry(&message.id[..8]).await.unwrap();
    expect_in_order(&mut bob, &["@bob m-001".to_string()]).await;
    assert_live(&server.url(), &mut bob, "bob", true).await;
}

/// An ACL user who may not read streams: the session says so and still shows durable
/// messages live, from pub/sub, instead of waiting for a stream it cannot read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_inbox_stream_falls_back_to_live_copies() {
    let server = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("bob")
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-xread")
        .arg("-xrevrange")
        .query(&mut server.raw())
        .unwrap();
    let (alice, _alice_events) = start(&server.url(), "alice", Delivery::Durable).await;
    let url = format!("redis://bob:pw@127.0.0.1:{}", server.port());
    let (_bob, mut bob) = start(&url, "bob", Delivery::Durable).await;
    let Event::Notice { text, .. } = next_matching(&mut bob, "unreadable notice", |e| {
        matches!(e, Event::Notice { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        text.contains("NOPERM") || text.contains("permission"),
        "{text}"
    );
    let expected = send(&alice, 0, 3).await;
    expect_in_order(&mut bob, &expected).await;
}

/// ACL errors come back inside the transaction (EXECABORT): still a permanent refusal, so
/// the message fails at once with the reason instead of blocking the outbox for 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_write_fails_at_once() {
    let server = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("alice")
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-xadd")
        .query(&mut server.raw())
        .unwrap();
    let url = format!("redis://alice:pw@127.0.0.1:{}", server.port());
    let (alice, _events) = start(&url, "alice", Delivery::Durable).await;
    let err = alice
        .send(parse_line("@bob hi").unwrap())
        .await
        .expect_err("refused");
    assert!(
        err.to_string().to_ascii_uppercase().contains("NOPERM"),
        "{err}"
    );
    assert_eq!(alice.queued(), 0, "not left blocking the outbox");
}

/// A failed message outlives the session: the next start shows it failed, with its reason,
/// and a retry then delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_can_be_retried_after_a_restart() {
    let server = RedisServer::start();
    let data = temp_dir();
    let mut raw = server.raw();
    let _: () = redis::cmd("SET")
        .arg("redchat:{u:bob}:inbox")
        .arg("not a stream")
        .query(&mut raw)
        .unwrap();
    let alice_config = config(
        &server.url(),
        "alice",
        Delivery::Durable,
        Some(data.clone()),
    );
    let (alice, _events) = Session::connect(alice_config.clone()).await.unwrap();
    let err = alice
        .send(parse_line("@bob after the fix").unwrap())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    alice.shutdown(Duration::from_secs(2)).await;

    let _: () = redis::cmd("DEL")
        .arg("redchat:{u:bob}:inbox")
        .query(&mut raw)
        .unwrap();
    let (_bob, mut bob) = start(&server.url(), "bob", Delivery::Durable).await;
    let (again, mut again_events) = Session::connect(alice_config).await.unwrap();
    let Event::Outgoing(failed) = next_matching(
        &mut again_events,
        "the failed message",
        |e| matches!(e, Event::Outgoing(o) if o.state == OutgoingState::Failed),
    )
    .await
    else {
        unreachable!()
    };
    assert!(failed.reason.unwrap().contains("WRONGTYPE"));
    again.retry(&failed.message.id).await.unwrap();
    expect_in_order(&mut bob, &["@bob after the fix".to_string()]).await;
    again.shutdown(Duration::from_secs(2)).await;
    std::fs::remove_dir_all(data).unwrap();
}
