//! Presence and typing: heartbeats with a TTL, clean exits, expiry after a crash, the
//! setting not to share, typing signals throttled at both ends.

use std::time::Duration;

use redchat_core::{ConversationId, Event};

use crate::support::*;

fn online(user: &'static str, want: bool) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Presence { user: u, online, .. } if u == user && *online == want)
}

#[tokio::test]
async fn online_while_connected_offline_at_once_after_a_clean_exit() {
    let server = RedisServer::start();
    let (_carol, mut c) = connect_with(&server, "carol", |_| {}).await;
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    next_matching(&mut c, "alice online", online("alice", true)).await;
    let Event::Who { users } = next_matching(&mut c, "who lists alice", |e| {
        matches!(e, Event::Who { users } if users.iter().any(|m| m.user == "alice" && m.online))
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        users.iter().all(|m| m.user != "bob"),
        "nobody invented: {users:?}"
    );
    alice.shutdown(WAIT).await;
    let Event::Presence { last_seen, .. } =
        next_matching(&mut c, "alice offline", online("alice", false)).await
    else {
        unreachable!()
    };
    assert!(last_seen.is_some(), "offline users have a last-seen time");
}

#[tokio::test]
async fn a_crashed_client_shows_offline_once_its_entry_expires() {
    let server = RedisServer::start();
    // What a client that crashed leaves behind: an entry that expires in 1.5 s, no farewell.
    let now = redchat_core::wire::now_ms();
    let _: () = redis::cmd("ZADD")
        .arg("redchat:directory")
        .arg(now + 1_500)
        .arg("ghost")
        .query(&mut raw(&server))
        .unwrap();
    let (_carol, mut c) = connect_with(&server, "carol", |_| {}).await;
    next_matching(&mut c, "ghost online", online("ghost", true)).await;
    next_matching(&mut c, "ghost offline after expiry", online("ghost", false)).await;
}

#[tokio::test]
async fn online_while_any_device_is() {
    let server = RedisServer::start();
    let (_carol, mut c) = connect_with(&server, "carol", |_| {}).await;
    let (laptop, _l) = connect_with(&server, "alice", |_| {}).await;
    let (phone, _p) = connect_with(&server, "alice", |_| {}).await;
    next_matching(&mut c, "alice online", online("alice", true)).await;
    // Both devices registered (each writes its entry on its first beat; nothing emits an
    // event for another device's write, so watch the key).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let devices: u64 = redis::cmd("ZCARD")
            .arg("redchat:{u:alice}:devices")
            .query(&mut raw(&server))
            .unwrap();
        if devices == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{devices} devices registered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    laptop.shutdown(WAIT).await;
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("redchat:directory")
        .arg("alice")
        .query(&mut raw(&server))
        .unwrap();
    assert!(
        score.unwrap() as i64 > redchat_core::wire::now_ms(),
        "the phone is still online, so alice is"
    );
    phone.shutdown(WAIT).await;
    next_matching(
        &mut c,
        "offline with the last device",
        online("alice", false),
    )
    .await;
}

#[tokio::test]
async fn not_sharing_presence_writes_nothing() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |c| c.share_presence = false).await;
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    // Once alice has seen bob online, her presence task has run several beats.
    next_matching(&mut a, "bob online", online("bob", true)).await;
    next_matching(&mut b, "bob's own who", |e| matches!(e, Event::Who { .. })).await;
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("redchat:directory")
        .arg("alice")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(score, None, "no presence key for alice");
    assert!(alice.who().await.unwrap().iter().all(|m| m.user != "alice"));
}

#[tokio::test]
async fn typing_reaches_the_peer_and_is_sent_at_most_every_three_seconds() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    next_matching(&mut b, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    let bob_conv = ConversationId::parse("@bob").unwrap();
    assert!(alice.typing(&bob_conv), "the first signal goes out");
    assert!(!alice.typing(&bob_conv), "a second within 3 s does not");
    let Event::Typing(t) =
        next_matching(&mut b, "alice typing", |e| matches!(e, Event::Typing(_))).await
    else {
        unreachable!()
    };
    assert_eq!(
        (t.user.as_str(), t.conversation.to_string()),
        ("alice", "@alice".to_string())
    );
    alice.join("#team").await.unwrap();
    bob.join("#team").await.unwrap();
    joined(&mut b, "#team").await;
    joined(&mut a, "#team").await;
    let team = ConversationId::parse("#team").unwrap();
    assert!(bob.typing(&team));
    let Event::Typing(t) = next_matching(&mut a, "bob typing in #team", |e| {
        matches!(e, Event::Typing(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(t.conversation, team);
    // Never stored.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*typing*")
        .query(&mut raw(&server))
        .unwrap();
    assert!(keys.is_empty());
    let _ = Duration::ZERO;
}
