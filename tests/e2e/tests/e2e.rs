//! The real app, driven through WebDriver under Xvfb, against a real redis-server.

#[path = "cluster.rs"]
mod cluster;
#[path = "company.rs"]
mod company;
#[path = "desktop.rs"]
mod desktop;
#[path = "rooms.rs"]
mod rooms;
#[path = "sentinel.rs"]
mod sentinel;
#[path = "store.rs"]
mod store;
#[path = "trust.rs"]
mod trust;

use redchat_core::testing::RedisServer;
use redchat_e2e::{AppUnderTest, DataHome, WAIT};
use serde_json::{Value, json};

const PASSWORD: &str = "e2e-s3cret=+/";

fn publish(server: &RedisServer, channel: &str, payload: &str) -> u64 {
    let url = format!(
        "redis://:{}@127.0.0.1:{}",
        "e2e-s3cret%3D%2B%2F",
        server.port()
    );
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query(&mut conn)
        .unwrap()
}

fn numsub(server: &RedisServer, channel: &str) -> u64 {
    let url = format!(
        "redis://:{}@127.0.0.1:{}",
        "e2e-s3cret%3D%2B%2F",
        server.port()
    );
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let (_, n): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(&mut conn)
        .unwrap();
    n
}

fn wait_text(app: &AppUnderTest, what: &str, css: &str, needle: &str) {
    app.wait_for(
        what,
        "return [...document.querySelectorAll(arguments[0])].some(e => e.textContent.includes(arguments[1]))",
        json!([css, needle]),
    );
}

#[test]
fn chat_in_the_real_window_and_settings_survive_a_restart() {
    let server = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let home = DataHome::new("chat");
    let addr = format!("127.0.0.1:{}", server.port());

    // First run: settings open; connect as Alice with the password in the Azure-style string.
    let app = AppUnderTest::start(&home.0);
    app.connect_as(
        &format!("{addr},password={PASSWORD},abortConnect=False"),
        " Alice ",
    );
    let connected = format!("Connected as alice · {addr}");
    assert_eq!(
        app.text("#status"),
        connected,
        "the status names the normalised user"
    );

    // A message published by a second client, in the original client's exact format, arrives.
    let seed = r#"{"Id":0,"Sender":"bob","Content":"@alice hello from bob","ReceivedAt":"0001-01-01T00:00:00"}"#;
    assert_eq!(
        publish(&server, "alice", seed),
        1,
        "the window is subscribed to alice's inbox"
    );
    // bob is not a contact yet: his first message is a request (the original client signs
    // nothing: marked unsigned, not forged).
    app.click("#requests li[data-conversation='@bob']");
    wait_text(
        &app,
        "bob's message in the window",
        "#messages .entry[data-trust='unsigned']",
        "hello from bob",
    );

    // Alice's @bob message reaches a subscriber on bob's inbox.
    let url = format!(
        "redis://:{}@127.0.0.1:{}",
        "e2e-s3cret%3D%2B%2F",
        server.port()
    );
    let mut sub_conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    sub_conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut pubsub = sub_conn.as_pubsub();
    pubsub.subscribe("bob").unwrap();
    app.type_and_enter("#compose", "@bob hi bob, it's alice");
    let msg = pubsub
        .get_message()
        .expect("bob's subscriber receives alice's message");
    let payload: Value = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
    assert_eq!(payload["Sender"], "alice");
    assert_eq!(
        payload["Content"], "@bob hi bob, it's alice",
        "content keeps the @bob prefix like the original"
    );
    assert_eq!(payload["Id"], 0);
    wait_text(
        &app,
        "alice's own message marked delivered",
        "#messages .entry.mine.delivered",
        "hi bob",
    );
    drop(pubsub);

    // Sending to someone absent: stored in their inbox stream for later (durable default).
    app.type_and_enter("#compose", "@nobody anyone there?");
    wait_text(
        &app,
        "stored-for-later mark",
        "#messages .entry.mine[data-state='stored']",
        "anyone there?",
    );

    // Hostile text is shown as text.
    publish(
        &server,
        "alice",
        r#"{"Sender":"bob","Content":"<img src=x onerror=alert(1)>"}"#,
    );
    // The new message moves bob's row to the top: click once it has moved (unread shown).
    app.wait_for(
        "bob's unread mark",
        "const u = document.querySelector(\"#conversations li[data-key='bob'] .unread\"); return !!u && !u.hidden",
        json!([]),
    );
    app.click("#conversations li[data-key='bob']");
    wait_text(
        &app,
        "hostile text rendered as text",
        "#messages .entry .text",
        "<img src=x onerror=alert(1)>",
    );
    assert_eq!(
        app.execute(
            "return document.querySelectorAll('.app img').length",
            json!([])
        ),
        json!(0)
    );
    // Disconnect from the UI: UNSUBSCRIBE, status says so; Connect comes back.
    app.click("#toggle-connection");
    app.wait_for(
        "disconnected status",
        "return document.querySelector('#status').dataset.phase === 'disconnected'",
        json!([]),
    );
    assert_eq!(
        numsub(&server, "alice"),
        0,
        "disconnect unsubscribes the inbox"
    );
    app.click("#toggle-connection");
    app.wait_for(
        "connected again",
        "return document.querySelector('#status').textContent === arguments[0]",
        json!([connected]),
    );
    assert_eq!(numsub(&server, "alice"), 1);

    // Closing the app leaves nobody on the inbox.
    app.close();
    let deadline = std::time::Instant::now() + WAIT;
    while numsub(&server, "alice") != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "inbox still subscribed after the app closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The settings file remembers everything but the password, and nothing on disk holds it.
    let hits = home.files_containing(PASSWORD);
    assert!(
        hits.is_empty(),
        "the password must never be written to disk: {hits:?}"
    );
    let settings = home.0.join("dev.redchat.desktop/settings.json");
    let saved =
        std::fs::read_to_string(&settings).expect("settings.json written by tauri-plugin-store");
    assert!(
        saved.contains(&format!("\"{addr},abortConnect=False\"")),
        "connection string kept without password: {saved}"
    );
    assert!(saved.contains("\"alice\""), "username kept: {saved}");

    // Restart: the form is pre-filled; with no keychain here, the app asks for the password.
    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "password request",
        "return document.querySelector('#settings-error').dataset.code === 'password_required'",
        json!([]),
    );
    assert_eq!(
        app.value("#connection"),
        format!("{addr},abortConnect=False")
    );
    assert_eq!(app.value("#username"), "alice");
    assert!(
        app.text("#password-hint").contains("No system keychain"),
        "{}",
        app.text("#password-hint")
    );
    app.type_into("#password", PASSWORD);
    app.click("#connect");
    app.wait_for(
        "reconnected after restart",
        "return document.querySelector('#status').textContent === arguments[0]",
        json!([connected]),
    );
    // History: what alice sent before the restart is back, from her sent stream.
    app.click("#conversations li[data-key='bob']");
    wait_text(
        &app,
        "history after restart",
        "#messages .entry.mine",
        "hi bob, it's alice",
    );
    app.close();
}

fn xadd(server: &RedisServer, key: &str, payload: &str) {
    let mut conn = server.raw();
    let _: String = redis::cmd("XADD")
        .arg(key)
        .arg("*")
        .arg("payload")
        .arg(payload)
        .query(&mut conn)
        .unwrap();
}

#[test]
fn durable_delivery_through_a_server_crash_in_the_real_window() {
    let mut server = RedisServer::start_persistent();
    let home = DataHome::new("durable");
    let addr = format!("127.0.0.1:{}", server.port());

    // Sent to alice before she ever connected: waiting in her inbox stream.
    let early = r#"{"Id":0,"Sender":"carol","Content":"@alice while you were away","ReceivedAt":"0001-01-01T00:00:00","MessageId":"e2e-early-1","Durable":true,"Redchat":1}"#;
    xadd(&server, "redchat:{u:alice}:inbox", early);

    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "the delivery choice",
        "return !!document.querySelector('input[data-delivery=liveOnly]') && document.querySelector('input[data-delivery=durable]').checked",
        json!([]),
    );
    app.connect_as(&addr, "alice");
    wait_text(
        &app,
        "the catch-up banner",
        "#banner .banner[data-banner='caught-up']",
        "1 message arrived while you were away",
    );
    // carol is a stranger: her message waits under Requests.
    app.click("#requests li[data-conversation='@carol']");
    wait_text(
        &app,
        "the stored message",
        "#messages .entry",
        "while you were away",
    );

    // The server dies: the window says so, counts attempts and offers "Retry now".
    server.kill();
    app.wait_for(
        "reconnecting with attempts",
        "const s = document.querySelector('#status'); return s.dataset.phase === 'reconnecting' && Number(s.dataset.attempt) >= 1 && !document.querySelector('#retry-now').hidden",
        json!([]),
    );
    // A message written meanwhile waits in the outbox.
    app.type_and_enter("#compose", "@bob written while the server was down");
    wait_text(
        &app,
        "queued mark",
        "#messages .entry.mine[data-state='queued']",
        "written while the server was down",
    );
    server.restart();
    app.execute("document.querySelector('#retry-now').click()", json!([]));
    app.wait_for(
        "connected again",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    // Bob is offline: sent and stored for him.
    wait_text(
        &app,
        "stored mark after reconnect",
        "#messages .entry.mine[data-state='stored']",
        "written while the server was down",
    );
    let mut conn = server.raw();
    let entries: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg("redchat:{u:bob}:inbox")
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    assert_eq!(entries.len(), 1, "exactly one copy in bob's inbox stream");
    app.close();
}
