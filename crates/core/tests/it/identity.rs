//! Nobody can speak as someone else, and nobody can silence an inbox unseen: one test per
//! attack, named after it, each with raw `redis-cli`-style writes against a real server.

use std::sync::Arc;
use std::time::Duration;

use redchat_core::identity::Identity;
use redchat_core::{
    ConversationId, Event, KeyStorage, NoticeCode, OutgoingState, Standing, Trust, parse_line, wire,
};

use crate::support::*;

/// XRANGE's reply: (id, [(field, value)]).
type Entries = Vec<(String, Vec<(String, Vec<u8>)>)>;

fn conv(text: &str) -> ConversationId {
    ConversationId::parse(text).unwrap()
}

/// A payload signed by `identity` as `sender`, to `to` (what a real Redchat would send
/// live-only: a durable one's live copy is skipped by readers of the stream).
fn signed_payload(identity: &Identity, sender: &str, to: &str, content: &str) -> (String, Vec<u8>) {
    let (m, payload) = wire::encode_chat(
        sender,
        &conv(&format!("@{to}")),
        to,
        content,
        false,
        Some(identity),
    )
    .unwrap();
    (m.id, payload)
}

fn with_identity(identity: &Arc<Identity>) -> impl FnOnce(&mut redchat_core::SessionConfig) {
    let identity = identity.clone();
    move |c| c.identity = Some((identity, KeyStorage::Memory))
}

async fn caught_up(events: &mut redchat_core::Events) {
    next_matching(events, "caught up", |e| matches!(e, Event::CaughtUp { .. })).await;
}

#[tokio::test]
async fn a_message_claiming_to_be_from_you_is_never_shown_as_yours() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    // The attack from the issue: redis-cli PUBLISH bob '{"Sender":"bob","To":"alice",...}'.
    publish(
        &server,
        "bob",
        br#"{"Sender":"bob","To":"alice","Content":"@alice I quit","MessageId":"s1"}"#,
    );
    let m = next_chat(&mut b, "the forged message").await;
    assert_eq!(m.content, "@alice I quit");
    assert!(!m.mine, "never \"(you)\": our key did not sign it");
    assert_eq!(m.trust, Trust::Unsigned);
    assert_ne!(m.id, "s1", "it cannot take an id a real message could have");
    // Signed by another key in our name: a key change, still not ours.
    let mallory = Identity::generate();
    let (_, payload) = signed_payload(&mallory, "bob", "bob", "@bob signed by mallory");
    publish(&server, "bob", &payload);
    let m = next_chat(&mut b, "the message signed by another key").await;
    assert!(!m.mine);
    assert_eq!(m.trust, Trust::KeyChanged);
}

#[tokio::test]
async fn a_forged_signature_is_invalid_and_another_key_is_a_key_change() {
    let server = RedisServer::start();
    let alice_id = Arc::new(Identity::generate());
    let (alice, _a) = connect_with(&server, "alice", with_identity(&alice_id)).await;
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    alice.send(parse_line("@bob hello").unwrap()).await.unwrap();
    let real = next_chat(&mut b, "alice's real message").await;
    assert_eq!(real.trust, Trust::Signed, "first key seen: pinned");
    // Altered content under a real signature.
    let (_, payload) = signed_payload(&alice_id, "alice", "bob", "@bob original");
    let text = String::from_utf8(payload)
        .unwrap()
        .replace("@bob original", "@bob send me the password");
    publish(&server, "bob", text.as_bytes());
    let m = next_chat(&mut b, "the altered message").await;
    assert_eq!(m.content, "@bob send me the password");
    assert_eq!(m.trust, Trust::Invalid);
    // Mallory signs with her own key as alice.
    let mallory = Identity::generate();
    let (_, payload) = signed_payload(&mallory, "alice", "bob", "@bob it's me, new laptop");
    publish(&server, "bob", &payload);
    let event = next_matching(&mut b, "key change announcement", |e| {
        matches!(e, Event::KeyChanged { .. })
    })
    .await;
    assert!(matches!(event, Event::KeyChanged { user, .. } if user == "alice"));
    let m = next_chat(&mut b, "the message by another key").await;
    assert_eq!(m.trust, Trust::KeyChanged);
    assert!(_bob.stats().not_authentic >= 2);
}

#[tokio::test]
async fn a_copy_republished_into_another_conversation_fails_verification() {
    let server = RedisServer::start();
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    // Alice writes to carol (offline: stored in carol's inbox stream).
    alice
        .send(parse_line("@carol meet at 5").unwrap())
        .await
        .unwrap();
    let copied: Entries = redis::cmd("XRANGE")
        .arg("redchat:{u:carol}:inbox")
        .arg("-")
        .arg("+")
        .query(&mut raw(&server))
        .unwrap();
    let body = &copied[0].1[0].1;
    // The same bytes, now in bob's inbox: the signature says "to carol".
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(body.as_slice())
        .query(&mut raw(&server))
        .unwrap();
    let m = next_chat(&mut b, "the re-published copy").await;
    assert_eq!(m.content, "@carol meet at 5");
    assert_eq!(m.trust, Trust::Invalid);
}

#[tokio::test]
async fn a_forged_live_copy_with_a_real_message_id_cannot_hide_the_real_message() {
    let server = RedisServer::start();
    let alice_id = Identity::generate();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let (id, payload) = signed_payload(&alice_id, "alice", "bob", "@bob the real one");
    // The forged copy arrives first, live, with the real message's id.
    let forged =
        format!(r#"{{"Sender":"alice","To":"bob","Content":"@bob forged","MessageId":"{id}"}}"#);
    publish(&server, "bob", forged.as_bytes());
    let first = next_chat(&mut b, "the forged copy").await;
    assert_eq!(first.content, "@bob forged");
    assert_ne!(first.trust, Trust::Signed);
    // Then the real one is stored.
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(payload.as_slice())
        .query(&mut raw(&server))
        .unwrap();
    let real = next_chat(&mut b, "the real message").await;
    assert_eq!(real.content, "@bob the real one");
    assert_eq!(real.trust, Trust::Signed);
    assert_eq!(
        real.id,
        format!("alice@{id}"),
        "shown under its sender's name"
    );
}

#[tokio::test]
async fn a_sender_name_with_a_zero_width_space_is_flagged_not_a_contact() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    publish(
        &server,
        "bob",
        "{\"Sender\":\"alice\u{200B}\",\"Content\":\"@bob it's alice\"}".as_bytes(),
    );
    let m = next_chat(&mut b, "the impostor").await;
    assert!(
        m.request,
        "a name that is not honest is nobody's contact: a request"
    );
    let issue = m.sender_issue.expect("the name is flagged");
    assert!(issue.contains("invisible characters (U+200B)"), "{issue}");
    assert_ne!(
        m.conversation,
        conv("@alice"),
        "never alice's conversation, and no reply can go to the impostor as alice"
    );
}

#[tokio::test]
async fn a_lookalike_of_a_contact_is_flagged() {
    let server = RedisServer::start();
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    // bob talks to paypal: a contact.
    bob.submit(parse_line("@paypal hi").unwrap()).await.unwrap();
    publish(
        &server,
        "bob",
        br#"{"Sender":"paypa1","Content":"@bob verify your account"}"#,
    );
    let m = next_chat(&mut b, "the lookalike").await;
    assert_eq!(m.lookalike.as_deref(), Some("paypal"));
    assert!(m.request, "a stranger's first message is a request");
    // Mixed scripts (a Cyrillic а among Latin letters) are refused as names.
    publish(
        &server,
        "bob",
        "{\"Sender\":\"p\u{430}ypal\",\"Content\":\"@bob hi\"}".as_bytes(),
    );
    let m = next_chat(&mut b, "the mixed-script name").await;
    assert!(m.sender_issue.unwrap().contains("mix scripts"));
}

#[tokio::test]
async fn three_thousand_fake_senders_are_all_shown_as_requests_and_counted() {
    let server = RedisServer::start();
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let mut conn = raw(&server);
    let mut pipe = redis::pipe();
    for i in 0..3_000 {
        let mallory = Identity::generate();
        let (_, payload) = signed_payload(&mallory, &format!("fake{i}"), "bob", "@bob buy now");
        pipe.cmd("PUBLISH").arg("bob").arg(payload).ignore();
    }
    let _: () = pipe.query(&mut conn).unwrap();
    let mut requests = 0;
    while requests < 3_000 {
        let m = next_chat(&mut b, "a fake sender's message").await;
        assert!(m.request, "{} is not a contact", m.sender);
        requests += 1;
    }
    // Never dropped (scripts see everything), and nothing else got stuck behind them.
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    bob.set_standing("alice", Standing::Contact).await.unwrap();
    alice.send(parse_line("@bob real").unwrap()).await.unwrap();
    let m = next_chat(&mut b, "the real message").await;
    assert_eq!(m.content, "@bob real");
    assert!(!m.request, "accepted: a contact");
}

#[tokio::test]
async fn a_blocked_sender_is_dropped_and_counted() {
    let server = RedisServer::start();
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    bob.set_standing("mallory", Standing::Blocked)
        .await
        .unwrap();
    for _ in 0..5 {
        publish(
            &server,
            "bob",
            br#"{"Sender":"mallory","Content":"@bob spam"}"#,
        );
    }
    publish(&server, "bob", br#"{"Sender":"carol","Content":"@bob hi"}"#);
    let mut dropped = 0;
    loop {
        match next_matching(&mut b, "blocked count or carol", |e| {
            matches!(e, Event::Blocked { .. } | Event::Chat(_))
        })
        .await
        {
            Event::Blocked { user, count } => {
                assert_eq!(user, "mallory");
                dropped = count;
            }
            Event::Chat(m) => {
                assert_eq!(m.sender, "carol", "mallory's messages never show");
                break;
            }
            _ => unreachable!(),
        }
    }
    if dropped < 5 {
        let Event::Blocked { count, .. } = next_matching(&mut b, "the final count", |e| {
            matches!(e, Event::Blocked { .. })
        })
        .await
        else {
            unreachable!()
        };
        dropped = count;
    }
    assert_eq!(dropped, 5);
    assert_eq!(bob.stats().blocked_dropped, 5);
}

#[tokio::test]
async fn an_inbox_stream_overwritten_with_a_string_is_a_visible_notice() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let mut conn = raw(&server);
    let _: () = redis::cmd("SET")
        .arg("redchat:{u:bob}:inbox")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let Event::Notice { code, text } = next_matching(&mut b, "wrong type notice", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::StreamWrongType,
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(code.as_str(), "stream_wrong_type");
    assert!(text.contains("redchat:{u:bob}:inbox"), "{text}");
    // Live copies are shown instead: bob still hears alice.
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    alice
        .send(parse_line("@bob still there?").unwrap())
        .await
        .ok();
    let m = next_chat(&mut b, "the live copy").await;
    assert_eq!(m.content, "@bob still there?");
}

/// The overwritten inbox is tried again while the sent stream is still read: once the key
/// is deleted, a message stored for bob (never published) reaches him from the stream.
#[tokio::test]
async fn an_inbox_stream_overwritten_then_deleted_is_read_again_while_others_are_read() {
    let server = RedisServer::start();
    let mut conn = raw(&server);
    let _: () = redis::cmd("SET")
        .arg("redchat:{u:bob}:inbox")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let (_bob, mut b) = connect_with(&server, "bob", |c| {
        c.stream_retry = std::time::Duration::from_millis(300);
    })
    .await;
    next_matching(&mut b, "wrong type notice", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::StreamWrongType,
                ..
            }
        )
    })
    .await;
    let _: () = redis::cmd("DEL")
        .arg("redchat:{u:bob}:inbox")
        .query(&mut conn)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(r#"{"Sender":"carol","Content":"@bob only in the stream"}"#)
        .query(&mut conn)
        .unwrap();
    let m = next_chat(&mut b, "the stored message").await;
    assert_eq!(m.content, "@bob only in the stream");
}

#[tokio::test]
async fn a_far_future_id_then_del_does_not_silence_the_inbox() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let mut conn = raw(&server);
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("99999999999999-0")
        .arg("payload")
        .arg(r#"{"Sender":"mallory","Content":"@bob from the future"}"#)
        .query(&mut conn)
        .unwrap();
    next_matching(&mut b, "future id notice", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::StreamFutureId,
                ..
            }
        )
    })
    .await;
    let _: () = redis::cmd("DEL")
        .arg("redchat:{u:bob}:inbox")
        .query(&mut conn)
        .unwrap();
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    alice
        .send(parse_line("@bob after the reset").unwrap())
        .await
        .unwrap();
    // Its live copy is skipped (durable); the stream copy has an id below bob's cursor.
    // The reader notices within one quiet block and reads the stream again.
    let m = next_matching(
        &mut b,
        "the message after the reset",
        |e| matches!(e, Event::Chat(m) if m.content == "@bob after the reset"),
    )
    .await;
    assert!(matches!(m, Event::Chat(_)));
}

#[tokio::test]
async fn the_largest_possible_id_fails_fast_and_jams_nobody_else() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("18446744073709551615-18446744073709551615")
        .arg("payload")
        .arg("x")
        .query(&mut raw(&server))
        .unwrap();
    next_matching(&mut b, "exhausted notice", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::StreamExhausted,
                ..
            }
        )
    })
    .await;
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let to_bob = alice.submit(parse_line("@bob hi").unwrap()).await.unwrap();
    let to_carol = alice
        .submit(parse_line("@carol hi").unwrap())
        .await
        .unwrap();
    let (mut bob_failed, mut carol_stored) = (None, false);
    while bob_failed.is_none() || !carol_stored {
        let Event::Outgoing(o) =
            next_matching(&mut a, "outcomes", |e| matches!(e, Event::Outgoing(_))).await
        else {
            unreachable!()
        };
        if o.message.id == to_bob.id && o.state == OutgoingState::Failed {
            bob_failed = o.reason.clone();
        }
        if o.message.id == to_carol.id && o.state == OutgoingState::Stored {
            carol_stored = true;
        }
    }
    let reason = bob_failed.unwrap();
    assert!(reason.contains("largest possible entry id"), "{reason}");
    // No copy left behind: alice's sent stream has only the message to carol.
    let len: u64 = redis::cmd("XLEN")
        .arg("redchat:{u:alice}:sent")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(len, 1);
}

#[tokio::test]
async fn a_huge_stream_entry_does_not_stall_the_inbox() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let huge = vec![b'x'; 8 * 1024 * 1024];
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(huge.as_slice())
        .query(&mut raw(&server))
        .unwrap();
    let (alice, _a) = connect_with(&server, "alice", |_| {}).await;
    alice.send(parse_line("@bob after").unwrap()).await.unwrap();
    let Event::Unreadable(u) = next_matching(&mut b, "the huge entry", |e| {
        matches!(e, Event::Unreadable(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(u.reason.contains("too large"));
    let m = next_chat(&mut b, "the message after it").await;
    assert_eq!(m.content, "@bob after");
}

#[tokio::test]
async fn a_second_instance_on_one_data_directory_is_refused_and_loses_nothing() {
    let server = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("redchat-lock-{}", wire::new_id()));
    let data = dir.clone();
    let (first, _f) = connect_with(&server, "alice", move |c| c.data_dir = Some(data)).await;
    first
        .submit(parse_line("@bob queued").unwrap())
        .await
        .unwrap();
    let mut config = redchat_core::SessionConfig::new(
        settings(&server.url()),
        redchat_core::Username::parse("alice").unwrap(),
    );
    config.data_dir = Some(dir.clone());
    let err = redchat_core::Session::connect(config.clone())
        .await
        .expect_err("a second instance is refused");
    assert_eq!(err.code(), redchat_core::Code::AlreadyRunning);
    assert!(err.to_string().contains("already running"), "{err}");
    first.shutdown(Duration::from_secs(5)).await;
    // Once the first has stopped, the directory is free and its identity is the same.
    let (again, _e) = redchat_core::Session::connect(config).await.unwrap();
    assert_eq!(again.identity_key(), first.identity_key());
    assert!(matches!(again.key_storage(), KeyStorage::File { .. }));
    again.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn safety_numbers_match_on_both_sides_and_verification_is_shown() {
    let server = RedisServer::start();
    let (alice, mut a) = connect_with(&server, "alice", |_| {}).await;
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut a).await;
    caught_up(&mut b).await;
    alice.send(parse_line("@bob hi").unwrap()).await.unwrap();
    next_chat(&mut b, "alice's message").await;
    bob.send(parse_line("@alice hi").unwrap()).await.unwrap();
    next_chat(&mut a, "bob's message").await;
    let at_bob = bob.contact("alice").await.unwrap();
    let at_alice = alice.contact("bob").await.unwrap();
    assert!(at_bob.safety_number.is_some());
    assert_eq!(at_bob.safety_number, at_alice.safety_number);
    assert_eq!(at_bob.key.as_deref(), Some(alice.identity_key()));
    assert_eq!(at_bob.published_key.as_deref(), Some(alice.identity_key()));
    // Only the key whose number was compared can be marked.
    assert!(
        bob.mark_verified("alice", true, Some("another key"))
            .await
            .is_err()
    );
    let verified = bob
        .mark_verified("alice", true, at_bob.key.as_deref())
        .await
        .unwrap();
    assert!(verified.verified);
    alice.send(parse_line("@bob again").unwrap()).await.unwrap();
    let m = next_chat(&mut b, "the next message").await;
    assert_eq!(m.trust, Trust::Verified);
}

#[tokio::test]
async fn a_new_key_is_announced_and_trusted_only_when_accepted() {
    let server = RedisServer::start();
    let (bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let (old, _o) = connect_with(&server, "alice", |_| {}).await;
    old.send(parse_line("@bob first").unwrap()).await.unwrap();
    assert_eq!(next_chat(&mut b, "first").await.trust, Trust::Signed);
    old.shutdown(Duration::from_secs(5)).await;
    // Alice reinstalls: a new key.
    let (new, _n) = connect_with(&server, "alice", |_| {}).await;
    new.send(parse_line("@bob new laptop").unwrap())
        .await
        .unwrap();
    next_matching(
        &mut b,
        "the announcement",
        |e| matches!(e, Event::KeyChanged { user, .. } if user == "alice"),
    )
    .await;
    assert_eq!(next_chat(&mut b, "new").await.trust, Trust::KeyChanged);
    let contact = bob.contact("alice").await.unwrap();
    assert_eq!(contact.new_key.as_deref(), Some(new.identity_key()));
    assert!(
        bob.accept_new_key("alice", Some(old.identity_key()))
            .await
            .is_err(),
        "only the new key that was shown can be accepted"
    );
    bob.accept_new_key("alice", contact.new_key.as_deref())
        .await
        .unwrap();
    new.send(parse_line("@bob accepted?").unwrap())
        .await
        .unwrap();
    assert_eq!(
        next_chat(&mut b, "after accepting").await.trust,
        Trust::Signed
    );
}

#[tokio::test]
async fn an_original_client_message_is_unsigned_not_forged() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    publish(
        &server,
        "bob",
        br#"{"Id":0,"Sender":"alice","Content":"@bob hi there","ReceivedAt":"0001-01-01T00:00:00"}"#,
    );
    let m = next_chat(&mut b, "the WPF client's message").await;
    assert!(m.legacy);
    assert_eq!(m.trust, Trust::Unsigned);
    assert_eq!(m.conversation, conv("@alice"));
}

#[tokio::test]
async fn a_password_changed_under_us_backs_off_instead_of_hammering_the_server() {
    let server = RedisServer::start_with(&["--requirepass", "old"]);
    let url = format!("redis://:old@127.0.0.1:{}", server.port());
    let mut config = redchat_core::SessionConfig::new(
        settings(&url),
        redchat_core::Username::parse("bob").unwrap(),
    );
    config.heartbeat = Duration::from_millis(200);
    let (_bob, mut b) = redchat_core::Session::connect(config).await.unwrap();
    caught_up(&mut b).await;
    // An admin rotates the password (as Azure's key regeneration does) and drops everyone.
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("new")
        .query(&mut admin)
        .unwrap();
    for kind in ["pubsub", "normal"] {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg(kind)
            .query(&mut admin)
            .unwrap_or(redis::Value::Nil);
    }
    let Event::Notice { text, .. } = next_matching(&mut b, "the refusal notice", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::AuthRefused,
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert!(text.contains("Retry now"), "{text}");
    // The waits grow past the normal reconnect cap (500 ms) instead of 2-4 tries a second.
    let Event::Status(s) = next_matching(
        &mut b,
        "a long wait",
        |e| matches!(e, Event::Status(s) if s.retry_in_ms.is_some_and(|ms| ms > 1_000)),
    )
    .await
    else {
        unreachable!()
    };
    assert!(
        s.attempt <= 6,
        "reached a long wait after {} attempts",
        s.attempt
    );
}

#[tokio::test]
async fn a_signed_message_from_another_name_cannot_take_a_real_id() {
    let server = RedisServer::start();
    let (_bob, mut b) = connect_with(&server, "bob", |_| {}).await;
    caught_up(&mut b).await;
    let alice = Identity::generate();
    let (id, real) = signed_payload(&alice, "alice", "bob", "@bob the real one");
    // mallory2 (a fresh name, so its key is pinned: "signed") signs a message with that id.
    let mallory = Identity::generate();
    let (m, mut fake) = wire::encode_chat(
        "mallory2",
        &conv("@bob"),
        "bob",
        "@bob first!",
        false,
        Some(&mallory),
    )
    .unwrap();
    // Re-sign with alice's id: a valid signature over a claim with that id.
    let text = String::from_utf8(fake.clone()).unwrap();
    let micros = m.sent_at_micros().unwrap();
    let claim = redchat_core::identity::Claim {
        kind: "chat",
        sender: "mallory2",
        target: "@bob",
        content: "@bob first!",
        id: &id,
        sent_at_micros: micros,
        key: mallory.public_key(),
    };
    let sig = mallory.sign(&claim);
    let old_sig = m.signature.unwrap().sig;
    fake = text
        .replace(&m.id, &id)
        .replace(&old_sig, &sig)
        .into_bytes();
    publish(&server, "bob", &fake);
    let first = next_chat(&mut b, "mallory2's message").await;
    assert_eq!(first.trust, Trust::Signed);
    assert_eq!(first.id, format!("mallory2@{id}"));
    publish(&server, "bob", &real);
    let second = next_chat(&mut b, "alice's real message").await;
    assert_eq!(second.content, "@bob the real one");
    assert_eq!(second.id, format!("alice@{id}"));
}

#[tokio::test]
async fn a_room_message_replayed_into_our_sent_stream_is_not_ours() {
    let server = RedisServer::start();
    let me = Arc::new(Identity::generate());
    let (alice, mut a) = connect_with(&server, "alice", with_identity(&me)).await;
    caught_up(&mut a).await;
    // One of alice's signed room messages, with "To":"mallory" added, in her sent stream.
    let (_, payload) = wire::encode_chat(
        "alice",
        &conv("#team"),
        "redchat:{r:team}:live",
        "standup in 5",
        true,
        Some(&me),
    )
    .unwrap();
    let text = String::from_utf8(payload)
        .unwrap()
        .replace(r#""Room":"team""#, r#""To":"mallory","Room":"team""#);
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:alice}:sent")
        .arg("*")
        .arg("payload")
        .arg(text)
        .query(&mut raw(&server))
        .unwrap();
    // Our own sent-stream entries are not shown live; history shows what the judge made of it.
    let page = alice.history(None, None, 10).await.unwrap();
    let m = page
        .messages
        .iter()
        .find(|m| m.content == "standup in 5")
        .expect("the entry is in the history");
    assert!(!m.mine, "never (you)");
    assert_eq!(m.trust, Trust::Invalid);
    let contact = alice.contact("mallory").await.unwrap();
    assert_eq!(contact.standing, Standing::Request, "mallory is no contact");
}
