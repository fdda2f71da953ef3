//! Hostile or garbage writes by other users of the same Redis: each test is named after the
//! attack it pins. Anyone with access can write any key or publish on any channel.

use std::time::Duration;

use redchat_core::{ConversationId, Event, parse_line};

use crate::support::*;

fn conv(text: &str) -> ConversationId {
    ConversationId::parse(text).unwrap()
}

#[tokio::test]
async fn typing_flood_from_one_sender_is_bounded_and_does_not_delay_messages() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    next_matching(&mut b, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    let mut conn = raw(&server);
    let mut pipe = redis::pipe();
    for _ in 0..5_000 {
        pipe.cmd("PUBLISH")
            .arg("redchat:{u:bob}:signal")
            .arg(r#"{"Kind":"typing","Sender":"mallory","To":"bob"}"#)
            .ignore();
    }
    let _: () = pipe.query(&mut conn).unwrap();
    alice
        .send(parse_line("@bob after the flood").unwrap())
        .await
        .unwrap();
    let mut typing = 0;
    loop {
        match next_matching(&mut b, "the message", |e| {
            matches!(e, Event::Chat(_) | Event::Typing(_))
        })
        .await
        {
            Event::Typing(_) => typing += 1,
            Event::Chat(m) => {
                assert_eq!(m.content, "@bob after the flood");
                break;
            }
            _ => unreachable!(),
        }
    }
    assert!(typing <= 3, "5,000 typing signals became {typing} events");
}

#[tokio::test]
async fn garbage_in_a_member_set_shows_as_unreadable() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    alice.join("#team").await.unwrap();
    joined(&mut a, "#team").await;
    let _: () = redis::cmd("SADD")
        .arg("redchat:{r:team}:members")
        .arg("two words")
        .arg(b"\xff\xfe".as_slice())
        .arg("UPPER")
        .query(&mut raw(&server))
        .unwrap();
    let (members, unreadable) = alice.members(&conv("#team")).await.unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(unreadable, 3, "never dropped silently, never a crash");
    next_matching(&mut a, "member list event with the count", |e| {
        matches!(e, Event::Members { unreadable: 3, .. })
    })
    .await;
}

#[tokio::test]
async fn garbage_in_a_room_stream_is_shown_unreadable_in_the_room() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    alice.join("#team").await.unwrap();
    joined(&mut a, "#team").await;
    let _: String = redis::cmd("XADD")
        .arg("redchat:{r:team}:log")
        .arg("*")
        .arg("payload")
        .arg(b"\xff\xfe\x00".as_slice())
        .query(&mut raw(&server))
        .unwrap();
    let Event::Unreadable(u) = next_matching(&mut a, "unreadable entry", |e| {
        matches!(e, Event::Unreadable(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(u.conversation, conv("#team"));
}

#[tokio::test]
async fn a_room_stream_of_the_wrong_type_is_a_visible_error_not_a_stall() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let (bob, _b) = connect_with(&server, "bob", |_| {}).await;
    for room in ["#team", "#ops"] {
        alice.join(room).await.unwrap();
        bob.join(room).await.unwrap();
    }
    joined(&mut a, "#ops").await;
    next_matching(&mut a, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    let mut conn = raw(&server);
    let _: () = redis::cmd("DEL")
        .arg("redchat:{r:team}:log")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("redchat:{r:team}:log")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    // The blocked read ends within its block time; the next read meets the bad key.
    let Event::Notice { text, .. } = next_matching(
        &mut a,
        "notice naming the key",
        |e| matches!(e, Event::Notice { text, .. } if text.contains("redchat:{r:team}:log")),
    )
    .await
    else {
        unreachable!()
    };
    assert!(text.contains("another type"), "{text}");
    for i in 0..2 {
        bob.send(parse_line(&format!("#ops still here {i}")).unwrap())
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(next_chat(&mut a, "#ops keeps flowing").await.content);
    }
    assert_eq!(got, ["still here 0", "still here 1"]);
    // Joining a room whose member set is another type fails, naming the key.
    let _: () = redis::cmd("SET")
        .arg("redchat:{r:bad}:members")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let err = alice.join("#bad").await.unwrap_err();
    assert!(err.to_string().contains("redchat:{r:bad}:members"), "{err}");
}

#[tokio::test]
async fn hostile_entries_in_the_rooms_hash_are_left_out_with_a_notice() {
    let server = RedisServer::start();
    let _: () = redis::cmd("HSET")
        .arg("redchat:{u:alice}:rooms")
        .arg("#ok")
        .arg("0 STREAMS evil")
        .arg("not a room")
        .arg("x")
        .query(&mut raw(&server))
        .unwrap();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    next_matching(
        &mut a,
        "notice",
        |e| matches!(e, Event::Notice { text, .. } if text.contains("1 unreadable entries")),
    )
    .await;
    assert_eq!(alice.joined(), vec![conv("#ok")]);
}

#[tokio::test]
async fn read_positions_from_someone_else_are_ignored() {
    let server = RedisServer::start();
    let (_alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let (bob, _b) = connect_with(&server, "bob", |_| {}).await;
    bob.send(parse_line("@alice unread").unwrap())
        .await
        .unwrap();
    next_matching(&mut a, "1 unread", |e| {
        matches!(e, Event::Unread { count: 1, .. })
    })
    .await;
    let far = redchat_core::wire::now_ms() + 1_000_000;
    publish(
        &server,
        "redchat:{u:alice}:signal",
        format!(r#"{{"Kind":"read","Sender":"mallory","Conversation":"@bob","At":{far}}}"#)
            .as_bytes(),
    );
    // A membership line claiming another room than the channel it came on is ignored too.
    bob.send(parse_line("@alice marker").unwrap())
        .await
        .unwrap();
    next_matching(&mut a, "still unread: 2", |e| {
        matches!(e, Event::Unread { count: 2, .. })
    })
    .await;
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn fake_presence_hints_cost_one_lookup_and_invent_nobody() {
    let server = RedisServer::start();
    let (_carol, mut c) = connect_with(&server, "carol", |_| {}).await;
    let mut pipe = redis::pipe();
    for i in 0..2_000 {
        pipe.cmd("PUBLISH")
            .arg("redchat:presence")
            .arg(format!(r#"{{"Kind":"presence","Sender":"fake{i}"}}"#))
            .ignore();
    }
    let _: () = pipe.query(&mut raw(&server)).unwrap();
    let (_dave, _d) = connect_with(&server, "dave", |_| {}).await;
    next_matching(
        &mut c,
        "dave, a real user, shows online",
        |e| matches!(e, Event::Presence { user, online: true, .. } if user == "dave"),
    )
    .await;
    let who = _carol.who().await.unwrap();
    assert!(
        who.iter().all(|m| !m.user.starts_with("fake")),
        "hints are never believed"
    );
}
