//! Redchat under Redis ACL users confined by `redchat_core::acl` (the recipe `redchat-cli
//! admin acl USER` prints), on a server whose `default` user is off.

use redchat_core::{
    ConversationId, Event, Keys, Namespace, Session, SessionConfig, Trust, Username, parse_line,
};

use crate::support::*;

/// A server with an admin, `default` off, and alice and bob confined by the recipe, piped
/// into the real `redis-cli` as an admin would.
fn confined_server() -> RedisServer {
    let server = RedisServer::start_with(redchat_core::testing::ADMIN_ONLY);
    redchat_core::testing::confine(server.port(), None, &["alice", "bob"]);
    server
}

async fn confined(server: &RedisServer, user: &str) -> (Session, redchat_core::Events) {
    let url = format!("redis://{user}:{user}-pw@127.0.0.1:{}", server.port());
    let mut config = SessionConfig::new(settings(&url), Username::parse(user).unwrap());
    config.presence_beat = std::time::Duration::from_millis(200);
    Session::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{user} should connect as a confined user: {e}"))
}

fn as_user(server: &RedisServer, user: &str) -> redis::Connection {
    redis::Client::open(format!(
        "redis://{user}:{user}-pw@127.0.0.1:{}",
        server.port()
    ))
    .unwrap()
    .get_connection()
    .unwrap()
}

#[tokio::test]
async fn two_confined_users_chat_in_a_dm_and_a_room_with_presence_history_and_signatures() {
    let server = confined_server();
    let (alice, mut a) = confined(&server, "alice").await;
    let (bob, mut b) = confined(&server, "bob").await;

    alice
        .send(parse_line("@bob hello under acl").unwrap())
        .await
        .unwrap();
    let got = next_chat(&mut b, "alice's DM").await;
    assert_eq!(got.sender, "alice");
    assert_eq!(
        got.trust,
        Trust::Signed,
        "signatures work: keys are published and read"
    );

    assert_eq!(
        alice.join("#ops").await.unwrap(),
        ConversationId::parse("#ops").unwrap()
    );
    joined(&mut a, "#ops").await;
    bob.join("#ops").await.unwrap();
    joined(&mut b, "#ops").await;
    bob.send(parse_line("#ops deploy done").unwrap())
        .await
        .unwrap();
    let room = next_matching(
        &mut a,
        "bob's room message",
        |e| matches!(e, Event::Chat(m) if m.content == "deploy done"),
    )
    .await;
    let Event::Chat(room) = room else {
        unreachable!()
    };
    assert_eq!(room.trust, Trust::Signed);

    let (members, unreadable) = alice
        .members(&ConversationId::parse("#ops").unwrap())
        .await
        .unwrap();
    assert_eq!(unreadable, 0);
    assert!(
        members.iter().any(|m| m.user == "bob" && m.online),
        "presence: {members:?}"
    );
    let who = bob.who().await.unwrap();
    assert!(
        who.iter().any(|m| m.user == "alice" && m.online),
        "who: {who:?}"
    );

    let page = bob
        .history(Some(&ConversationId::parse("@alice").unwrap()), None, 10)
        .await
        .unwrap();
    assert!(
        page.messages
            .iter()
            .any(|m| m.content.ends_with("hello under acl")),
        "history: {page:?}"
    );

    // Offline delivery: bob leaves, alice writes, bob comes back and catches up.
    bob.shutdown(std::time::Duration::from_secs(2)).await;
    drop(b);
    alice
        .send(parse_line("@bob while you were away").unwrap())
        .await
        .unwrap();
    let (_bob, mut b) = confined(&server, "bob").await;
    next_matching(
        &mut b,
        "caught-up DM",
        |e| matches!(e, Event::Chat(m) if m.content.ends_with("while you were away")),
    )
    .await;
    assert_eq!(alice.stats().not_authentic, 0);
}

#[test]
fn a_confined_user_reading_another_users_inbox_is_refused() {
    let server = confined_server();
    let mut alice = as_user(&server, "alice");
    let keys = Keys::new(&Namespace::default());
    let bob = Username::parse("bob").unwrap();
    for (what, cmd) in [
        (
            "XRANGE bob's inbox",
            redis::cmd("XRANGE")
                .arg(keys.inbox_stream(&bob))
                .arg("-")
                .arg("+")
                .clone(),
        ),
        (
            "XREAD bob's inbox",
            redis::cmd("XREAD")
                .arg("STREAMS")
                .arg(keys.inbox_stream(&bob))
                .arg("0")
                .clone(),
        ),
        (
            "XREAD bob's sent",
            redis::cmd("XREAD")
                .arg("STREAMS")
                .arg(keys.sent_stream(&bob))
                .arg("0")
                .clone(),
        ),
        (
            "HGETALL bob's rooms",
            redis::cmd("HGETALL").arg(keys.rooms(&bob)).clone(),
        ),
        (
            "SET bob's key",
            redis::cmd("SET")
                .arg(keys.identity(&bob))
                .arg("forged")
                .clone(),
        ),
        (
            "DEL bob's inbox",
            redis::cmd("DEL").arg(keys.inbox_stream(&bob)).clone(),
        ),
        ("KEYS", redis::cmd("KEYS").arg("*").clone()),
        (
            "CONFIG GET",
            redis::cmd("CONFIG").arg("GET").arg("*").clone(),
        ),
        ("FLUSHALL", redis::cmd("FLUSHALL").clone()),
        ("CLIENT LIST", redis::cmd("CLIENT").arg("LIST").clone()),
    ] {
        let err = cmd.query::<redis::Value>(&mut alice).expect_err(what);
        assert_eq!(err.code(), Some("NOPERM"), "{what}: {err}");
    }
    // What she may do to bob's inbox: add to it (a direct message), nothing more.
    let _: String = redis::cmd("XADD")
        .arg(keys.inbox_stream(&bob))
        .arg("*")
        .arg("f")
        .arg("v")
        .query(&mut alice)
        .unwrap();
}

#[test]
fn a_confined_user_subscribing_to_another_users_channel_is_refused() {
    let server = confined_server();
    for channel in ["bob", "redchat:{u:bob}:signal", "*"] {
        // A fresh connection each time: a successful SUBSCRIBE would put it in pub/sub mode.
        let err = redis::cmd("SUBSCRIBE")
            .arg(channel)
            .query::<redis::Value>(&mut as_user(&server, "alice"))
            .expect_err(channel);
        assert_eq!(err.code(), Some("NOPERM"), "{channel}: {err}");
    }
    let err = redis::cmd("PSUBSCRIBE")
        .arg("*")
        .query::<redis::Value>(&mut as_user(&server, "alice"))
        .expect_err("pattern");
    assert_eq!(err.code(), Some("NOPERM"), "PSUBSCRIBE *: {err}");
    let ok: redis::Value = redis::cmd("SUBSCRIBE")
        .arg("alice")
        .query(&mut as_user(&server, "alice"))
        .expect("her own inbox");
    assert!(!matches!(ok, redis::Value::ServerError(_)), "{ok:?}");
}

#[tokio::test]
async fn a_forbidden_command_is_its_own_error_never_a_wrong_password() {
    let server = confined_server();
    // alice connecting as bob's Redchat user: her ACL user may not subscribe to bob's inbox.
    let url = format!("redis://alice:alice-pw@127.0.0.1:{}", server.port());
    let err = Session::connect(SessionConfig::new(
        settings(&url),
        Username::parse("bob").unwrap(),
    ))
    .await
    .expect_err("alice's ACL user cannot be bob");
    assert_eq!(err.code(), "forbidden", "{err:?}");
    let text = err.to_string();
    assert!(text.contains("your Redis user may not"), "{text}");
    assert!(
        !text.to_lowercase().contains("password"),
        "never a password problem: {text}"
    );
}
