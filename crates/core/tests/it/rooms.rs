//! Rooms: one channel and one stream per room, members in Redis, joins and leaves shown,
//! mentions, catch-up, other devices, read positions shared by devices.

use redchat_core::{ConversationId, Event, MemberAction, parse_line};

use crate::support::*;

fn conv(text: &str) -> ConversationId {
    ConversationId::parse(text).unwrap()
}

#[tokio::test]
async fn members_talk_in_a_room_see_joins_and_mentions_count_apart() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    assert_eq!(alice.join("#Team").await.unwrap(), conv("#team"));
    joined(&mut a, "#team").await;
    bob.join("team").await.unwrap();
    joined(&mut b, "#team").await;
    let Event::Membership(m) = next_matching(
        &mut a,
        "bob's join line",
        |e| matches!(e, Event::Membership(m) if m.user == "bob"),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (m.action, m.conversation.clone()),
        (MemberAction::Join, conv("#team"))
    );

    bob.send(parse_line("#team morning all").unwrap())
        .await
        .unwrap();
    bob.send(parse_line("#team @alice can you look?").unwrap())
        .await
        .unwrap();
    let first = next_chat(&mut a, "room message").await;
    assert_eq!(
        first.conversation,
        conv("#team"),
        "core says where it belongs"
    );
    assert_eq!(first.room.as_deref(), Some("team"));
    assert_eq!(first.content, "morning all");
    assert!(!first.mentions_me && !first.mine);
    let second = next_chat(&mut a, "mention").await;
    assert!(second.mentions_me, "@alice in a room is a mention");
    next_matching(&mut a, "unread 2, 1 mention", |e| {
        matches!(e, Event::Unread { conversation, count: 2, mentions: 1 } if *conversation == conv("#team"))
    })
    .await;
    // One stream entry per message, not one per member.
    let len: u64 = redis::cmd("XLEN")
        .arg("redchat:{r:team}:log")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(len, 4, "two joins and two messages, each XADDed once");

    bob.leave(&conv("#team")).await.unwrap();
    next_matching(
        &mut a,
        "bob's leave line",
        |e| matches!(e, Event::Membership(m) if m.user == "bob" && m.action == MemberAction::Leave),
    )
    .await;
    let (members, unreadable) = alice.members(&conv("#team")).await.unwrap();
    assert_eq!(
        members.iter().map(|m| m.user.as_str()).collect::<Vec<_>>(),
        ["alice"]
    );
    assert_eq!(unreadable, 0);
}

#[tokio::test]
async fn a_member_who_was_away_catches_up_from_the_room_stream() {
    let server = RedisServer::start();
    let data = std::env::temp_dir().join(format!("redchat-rooms-{}", redchat_core::wire::new_id()));
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    alice.join("#team").await.unwrap();
    joined(&mut a, "#team").await;
    let dir = data.clone();
    let (bob, mut b) = connect_with(&server, "bob", move |c| c.data_dir = Some(dir)).await;
    bob.join("#team").await.unwrap();
    joined(&mut b, "#team").await;
    next_matching(&mut b, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    bob.shutdown(WAIT).await;
    for i in 0..3 {
        alice
            .send(parse_line(&format!("#team while away {i}")).unwrap())
            .await
            .unwrap();
    }
    let dir = data.clone();
    let (_bob, mut b) = connect_with(&server, "bob", move |c| c.data_dir = Some(dir)).await;
    for i in 0..3 {
        let m = next_chat(&mut b, "stored room message").await;
        assert_eq!(
            m.content,
            format!("while away {i}"),
            "in order, from bob's own cursor"
        );
    }
    next_matching(&mut b, "caught up with 3", |e| {
        matches!(e, Event::CaughtUp { count: 3 })
    })
    .await;
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test]
async fn fifty_rooms_use_as_many_connections_as_none() {
    let server = RedisServer::start();
    let clients = || -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query(&mut raw(&server))
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
            - 1 // the INFO connection itself
    };
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    next_matching(&mut a, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    let before = clients();
    for i in 0..50 {
        alice.join(&format!("#room{i}")).await.unwrap();
    }
    joined(&mut a, "#room49").await;
    // The reader reopens its one connection when the set of streams changes; the server
    // notices the old one closed a moment later (bounded poll: there is no event for it).
    let deadline = std::time::Instant::now() + WAIT;
    while clients() != before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(clients(), before, "joining 50 rooms opened no connection");
    let (carol, _c) = connect_with(&server, "carol", |_| {}).await;
    carol.join("#room37").await.unwrap();
    carol
        .send(parse_line("#room37 still read in the one XREAD").unwrap())
        .await
        .unwrap();
    let m = next_chat(&mut a, "message in room 37").await;
    assert_eq!(m.conversation, conv("#room37"));
}

#[tokio::test]
async fn the_original_console_clients_channel_chats_both_ways() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    assert_eq!(alice.join("~messages").await.unwrap(), conv("~messages"));
    joined(&mut a, "~messages").await;
    let mut console = server.raw();
    let mut sub = console.as_pubsub();
    sub.subscribe("messages").unwrap();
    publish(&server, "messages", b"carol: hello from the console");
    let Event::Plain(p) =
        next_matching(&mut a, "console line", |e| matches!(e, Event::Plain(_))).await
    else {
        unreachable!()
    };
    assert_eq!(p.text, "carol: hello from the console");
    assert_eq!(p.conversation, conv("~messages"));
    alice
        .send(redchat_core::Draft::in_conversation(conv("~messages"), "hi console").unwrap())
        .await
        .unwrap();
    sub.set_read_timeout(Some(WAIT)).unwrap();
    loop {
        let msg = sub.get_message().expect("the console client gets our line");
        let text: String = msg.get_payload().unwrap();
        if text == "alice: hi console" {
            break;
        }
    }
}

#[tokio::test]
async fn joined_rooms_and_sent_messages_follow_to_another_device() {
    let server = RedisServer::start();
    // One identity on both devices (the phone imported the laptop's key): its messages
    // are "mine" only when signed by our key.
    let identity = std::sync::Arc::new(redchat_core::Identity::generate());
    let (a, b) = (identity.clone(), identity);
    let (laptop, mut l) = connect_with(&server, "alice", move |c| {
        c.identity = Some((a, redchat_core::KeyStorage::Memory))
    })
    .await;
    let (_phone, mut p) = connect_with(&server, "alice", move |c| {
        c.identity = Some((b, redchat_core::KeyStorage::Memory))
    })
    .await;
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    next_matching(&mut p, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
    laptop.join("#team").await.unwrap();
    joined(&mut l, "#team").await;
    joined(&mut p, "#team").await;
    laptop
        .send(parse_line("@bob from my laptop").unwrap())
        .await
        .unwrap();
    let m = next_chat(&mut p, "own DM on the other device").await;
    assert_eq!((m.conversation.clone(), m.mine), (conv("@bob"), true));
    assert_eq!(
        next_chat(&mut b, "bob gets it").await.content,
        "@bob from my laptop"
    );
    laptop
        .send(parse_line("#team hello").unwrap())
        .await
        .unwrap();
    let m = next_chat(&mut p, "own room message on the other device").await;
    assert_eq!((m.conversation.clone(), m.mine), (conv("#team"), true));
    // Never twice on the device that sent it: up to bob's answer, the laptop shows no
    // chat event of its own.
    bob.send(parse_line("@alice got them").unwrap())
        .await
        .unwrap();
    loop {
        let m = next_chat(&mut l, "bob's answer").await;
        assert!(
            !m.mine,
            "the sending device shows no echo of its own message: {m:?}"
        );
        if m.content == "@alice got them" {
            break;
        }
    }
}

#[tokio::test]
async fn read_positions_are_shared_by_every_device() {
    let server = RedisServer::start();
    // One identity on both devices (the phone imported the laptop's key): its messages
    // are "mine" only when signed by our key.
    let identity = std::sync::Arc::new(redchat_core::Identity::generate());
    let (a, b) = (identity.clone(), identity);
    let (laptop, mut l) = connect_with(&server, "alice", move |c| {
        c.identity = Some((a, redchat_core::KeyStorage::Memory))
    })
    .await;
    let (_phone, mut p) = connect_with(&server, "alice", move |c| {
        c.identity = Some((b, redchat_core::KeyStorage::Memory))
    })
    .await;
    let (bob, _b) = connect_with(&server, "bob", |_| {}).await;
    bob.send(parse_line("@alice one").unwrap()).await.unwrap();
    bob.send(parse_line("@alice two").unwrap()).await.unwrap();
    let two = |e: &Event| matches!(e, Event::Unread { conversation, count: 2, .. } if *conversation == conv("@bob"));
    next_matching(&mut l, "2 unread on the laptop", two).await;
    next_matching(&mut p, "2 unread on the phone", two).await;
    laptop.mark_read(&conv("@bob"));
    let zero = |e: &Event| matches!(e, Event::Unread { conversation, count: 0, .. } if *conversation == conv("@bob"));
    next_matching(&mut l, "read on the laptop", zero).await;
    next_matching(&mut p, "cleared on the phone too", zero).await;
    // A device that starts later reads the position from Redis: nothing unread.
    let (_tablet, mut t) = connect_with(&server, "alice", |_| {}).await;
    next_matching(&mut t, "caught up", |e| {
        matches!(e, Event::CaughtUp { count: 2 })
    })
    .await;
    bob.send(parse_line("@alice three").unwrap()).await.unwrap();
    next_matching(&mut t, "only the new one unread", |e| {
        matches!(e, Event::Unread { conversation, count: 1, .. } if *conversation == conv("@bob"))
    })
    .await;
}
