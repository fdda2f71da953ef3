use std::time::{Duration, Instant};

use redchat_core::session::State;
use redchat_core::{ConnectionSettings, Event, Session, SessionConfig, Username, parse_line};

use crate::support::*;

fn is_state(state: State) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Status(s) if s.state == state)
}

#[tokio::test]
async fn direct_message_round_trip() {
    let server = RedisServer::start();
    let (alice, _alice_events) = connect(&server, "Alice").await;
    let (_bob, mut bob_events) = connect(&server, " BOB ").await;
    assert_eq!(alice.inbox(), "alice", "inbox is the normalised username");

    let report = alice
        .send(parse_line("@Bob hi there").unwrap())
        .await
        .unwrap();
    assert_eq!(report.receivers, 1, "bob is subscribed");
    assert_eq!(report.message.content, "@bob hi there");

    let Event::Chat(got) = next_matching(&mut bob_events, "bob's message", |e| {
        matches!(e, Event::Chat(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (got.sender.as_str(), got.content.as_str()),
        ("alice", "@bob hi there")
    );
    assert_eq!(
        got.id,
        format!("alice@{}", report.message.id),
        "the receiver sees the sender's message id, under the sender's name"
    );
    assert!(!got.legacy);
}

#[tokio::test]
async fn absent_recipient_is_reported_with_zero_receivers() {
    let server = RedisServer::start();
    let (alice, _events) = connect(&server, "alice").await;
    let report = alice
        .send(parse_line("@nobody are you there?").unwrap())
        .await
        .unwrap();
    assert_eq!(
        report.receivers, 0,
        "an absent user must be reported as 0 receivers"
    );
}

#[tokio::test]
async fn original_client_payload_and_plain_text_are_received() {
    let server = RedisServer::start();
    let (_alice, mut events) = connect(&server, "alice").await;
    let seed =
        br#"{"Id":0,"Sender":"bob","Content":"@alice hi","ReceivedAt":"0001-01-01T00:00:00"}"#;
    assert_eq!(publish(&server, "alice", seed), 1);
    let Event::Chat(m) = next_matching(&mut events, "seed-format message", |e| {
        matches!(e, Event::Chat(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (m.sender.as_str(), m.content.as_str(), m.legacy),
        ("bob", "@alice hi", true)
    );

    publish(&server, "alice", b"hello from redis-cli");
    let Event::Plain(p) =
        next_matching(&mut events, "plain text", |e| matches!(e, Event::Plain(_))).await
    else {
        unreachable!()
    };
    assert_eq!(p.text, "hello from redis-cli");
}

#[tokio::test]
async fn garbage_becomes_unreadable_and_the_session_keeps_working() {
    let server = RedisServer::start();
    let (_alice, mut events) = connect(&server, "alice").await;
    publish(&server, "alice", &[0xff, 0x00, 0xfe, 0x01]);
    publish(
        &server,
        "alice",
        br#"{"Sender":{"$where":"x"},"Content":[]}"#,
    );
    let deep = "[".repeat(10_000);
    publish(&server, "alice", deep.as_bytes());
    for what in ["binary", "wrong shape", "deep nesting"] {
        let e = next_matching(&mut events, what, is_message).await;
        assert!(
            matches!(e, Event::Unreadable(_)),
            "{what} must be an unreadable entry, got {e:?}"
        );
    }
    publish(
        &server,
        "alice",
        br#"{"Sender":"bob","Content":"still here?"}"#,
    );
    let e = next_matching(&mut events, "message after garbage", is_message).await;
    assert!(
        matches!(e, Event::Chat(ref m) if m.content == "still here?"),
        "session must survive garbage: {e:?}"
    );
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let server = RedisServer::start_with(&["--requirepass", "right-password"]);
    let user = Username::parse("alice").unwrap();
    for url in [
        format!("redis://:wrong@127.0.0.1:{}", server.port()),
        format!("redis://127.0.0.1:{}", server.port()),
    ] {
        let err = Session::connect(SessionConfig::new(settings(&url), user.clone()))
            .await
            .unwrap_err();
        assert!(err.is_auth(), "{url}: expected an auth error, got {err:?}");
        assert!(
            !err.to_string().contains("wrong"),
            "the message must not echo the password: {err}"
        );
    }
    let ok = format!("127.0.0.1:{},password=right-password", server.port());
    Session::connect(SessionConfig::new(settings(&ok), user))
        .await
        .expect("right password connects");
}

#[tokio::test]
async fn nothing_listening_fails_within_the_connect_timeout() {
    let port = redchat_core::testing::free_port();
    let mut s = ConnectionSettings::new("127.0.0.1", port);
    s.connect_timeout = Duration::from_secs(3);
    let started = Instant::now();
    let err = Session::connect(SessionConfig::new(s, Username::parse("alice").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unreachable", "refused connection: {err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "must fail within the connect timeout, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_server_times_out_at_the_connect_timeout() {
    // Accepts TCP connections and never answers: a hung or black-holed server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = ConnectionSettings::new("127.0.0.1", listener.local_addr().unwrap().port());
    s.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = Session::connect(SessionConfig::new(s, Username::parse("alice").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout", "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the connect timeout, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn non_redis_server_is_named_as_such() {
    // Something that answers like an HTTP server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let err = Session::connect(SessionConfig::new(
        ConnectionSettings::new("127.0.0.1", port),
        Username::parse("alice").unwrap(),
    ))
    .await
    .unwrap_err();
    assert_eq!(err.code(), "unsupported_server", "{err:?}");
    assert!(
        err.to_string()
            .contains("does not speak the Redis protocol"),
        "{err}"
    );
}

#[tokio::test]
async fn shutdown_unsubscribes_and_closes() {
    let server = RedisServer::start();
    let (alice, mut events) = connect(&server, "alice").await;
    assert_eq!(numsub(&server, "alice"), 1, "subscribed while connected");
    alice.shutdown(Duration::from_secs(3)).await;
    next_matching(
        &mut events,
        "disconnected status",
        is_state(State::Disconnected),
    )
    .await;
    assert_eq!(
        numsub(&server, "alice"),
        0,
        "after shutdown nobody listens on the inbox"
    );
    let err = alice
        .send(parse_line("@bob late").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_connected");
}

#[tokio::test]
async fn dropping_every_handle_unsubscribes() {
    let server = RedisServer::start();
    let (alice, mut events) = connect(&server, "alice").await;
    drop(alice);
    next_matching(
        &mut events,
        "disconnected status",
        is_state(State::Disconnected),
    )
    .await;
    assert_eq!(numsub(&server, "alice"), 0);
}

#[tokio::test]
async fn killed_pubsub_connection_is_resubscribed() {
    let server = RedisServer::start();
    let (_alice, mut events) = connect(&server, "alice").await;
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(
        killed, 1,
        "the session's connection is the one pub/sub client"
    );
    next_matching(
        &mut events,
        "reconnecting status",
        is_state(State::Reconnecting),
    )
    .await;
    next_matching(&mut events, "connected status", is_state(State::Connected)).await;
    assert_eq!(numsub(&server, "alice"), 1, "resubscribed after the kill");
    publish(
        &server,
        "alice",
        br#"{"Sender":"bob","Content":"after kill"}"#,
    );
    let e = next_matching(&mut events, "message after reconnect", |e| {
        matches!(e, Event::Chat(_))
    })
    .await;
    assert!(matches!(e, Event::Chat(ref m) if m.content == "after kill"));
}

#[tokio::test]
async fn namespace_prefixes_the_inbox() {
    let server = RedisServer::start();
    let mut config = SessionConfig::new(settings(&server.url()), Username::parse("alice").unwrap());
    config.namespace = redchat_core::Namespace::parse("team:").unwrap();
    let (alice, _events) = Session::connect(config).await.unwrap();
    assert_eq!(alice.inbox(), "team:alice");
    assert_eq!(numsub(&server, "team:alice"), 1);
    assert_eq!(
        numsub(&server, "alice"),
        0,
        "the bare name is another namespace"
    );
}

#[tokio::test]
async fn a_cluster_node_without_slots_says_the_cluster_is_not_ok() {
    let conf = std::env::temp_dir().join(format!(
        "redchat-cluster-nodes-{}-{}.conf",
        std::process::id(),
        redchat_core::testing::free_port()
    ));
    let server = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().unwrap(),
    ]);
    let err = Session::connect(SessionConfig::new(
        settings(&server.url()),
        Username::parse("alice").unwrap(),
    ))
    .await
    .expect_err("a node serving no slots is no cluster to chat on");
    assert!(err.is_retryable(), "it may be forming: {err:?}");
    assert!(
        err.to_string()
            .contains("16384 of 16384 slots have no primary: the cluster is not ok"),
        "{err}"
    );
    let _ = std::fs::remove_file(conf);
}
