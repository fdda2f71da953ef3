//! History from the inbox and sent streams: merged in time order, paged, per conversation.

use redchat_core::{ConversationId, Delivery, HistoryCursor, SessionConfig, Username, parse_line};

use crate::support::*;

#[tokio::test]
async fn pages_back_through_both_directions_of_a_conversation() {
    let server = RedisServer::start();
    let (alice, _a) = connect(&server, "alice").await;
    let (bob, _b) = connect(&server, "bob").await;
    let (carol, _c) = connect(&server, "carol").await;
    let mut expected = Vec::new();
    for i in 0..25 {
        let (from, line) = if i % 3 == 0 {
            (&bob, format!("@alice b{i}"))
        } else {
            (&alice, format!("@bob a{i}"))
        };
        from.send(parse_line(&line).unwrap()).await.unwrap();
        expected.push(line.split_once(' ').unwrap().1.to_string());
        // Another conversation interleaved: not part of alice's history with bob.
        carol
            .send(parse_line(&format!("@alice c{i}")).unwrap())
            .await
            .unwrap();
    }
    let bob_name = ConversationId::Direct(Username::parse("bob").unwrap());
    let mut pages = Vec::new();
    let mut before: Option<HistoryCursor> = None;
    loop {
        let page = alice
            .history(Some(&bob_name), before.clone(), 10)
            .await
            .unwrap();
        assert!(page.messages.len() <= 10);
        pages.push(
            page.messages
                .iter()
                .map(|m| m.content.split_once(' ').unwrap().1.to_string())
                .collect::<Vec<_>>(),
        );
        match page.more {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
        assert!(pages.len() < 10, "paging ends");
    }
    let all: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(
        all, expected,
        "both directions, oldest first, nothing twice or missing"
    );

    let everything = alice.history(None, None, 1000).await.unwrap();
    assert_eq!(everything.messages.len(), 50, "25 with bob + 25 from carol");
    assert!(everything.more.is_none());
}

#[tokio::test]
async fn live_only_keeps_no_history() {
    let server = RedisServer::start();
    let mut config = SessionConfig::new(settings(&server.url()), Username::parse("alice").unwrap());
    config.delivery = Delivery::LiveOnly;
    let (alice, _events) = redchat_core::Session::connect(config).await.unwrap();
    let report = alice.send(parse_line("@bob hi").unwrap()).await.unwrap();
    assert!(!report.stored);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut server.raw())
        .unwrap();
    // Presence (the devices set, the directory) and the published identity key are kept
    // in either mode; messages are not.
    let stored: Vec<&String> = keys
        .iter()
        .filter(|k| {
            !k.ends_with(":devices")
                && !k.ends_with(":identity")
                && !k.ends_with("redchat:directory")
        })
        .collect();
    assert!(
        stored.is_empty(),
        "no message stored in live-only mode: {stored:?}"
    );
    assert!(
        alice
            .history(None, None, 10)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn an_empty_inbox_is_caught_up_at_once_and_live_messages_are_not_counted() {
    let server = RedisServer::start();
    let (alice, _a) = connect(&server, "alice").await;
    let (_bob, mut bob) = connect(&server, "bob").await;
    // Catching up must not sit in the live blocking read (5 s): an empty inbox is "caught up"
    // at once. The bound tells "did not block" from "blocked", it is not a speed goal.
    let caught = tokio::time::timeout(std::time::Duration::from_millis(2500), async {
        loop {
            match bob.recv().await {
                Some(e @ redchat_core::Event::CaughtUp { .. }) => return e,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await
    .expect("caught up without waiting for the blocking read");
    assert_eq!(caught, redchat_core::Event::CaughtUp { count: 0 });
    alice.send(parse_line("@bob live").unwrap()).await.unwrap();
    let next = next_matching(&mut bob, "the live message", is_message).await;
    assert!(
        matches!(next, redchat_core::Event::Chat(ref m) if m.content == "@bob live"),
        "{next:?}"
    );
}
