//! Signed identities in the real window (a module of the one e2e binary): a forged message
//! is loud, the original client's is marked unsigned, a stranger is a request, and the
//! contact panel shows the safety number.

use std::process::{Command, Stdio};

use redchat_core::testing::RedisServer;
use redchat_e2e::{AppUnderTest, DataHome, cli_binary};
use serde_json::json;

fn cli(server: &RedisServer, args: &[&str]) {
    let status = Command::new(cli_binary())
        .args(args)
        .env("REDCHAT_URL", server.url())
        .env(
            "REDCHAT_DATA_DIR",
            std::env::temp_dir().join(format!("redchat-e2e-trust-{}", server.port())),
        )
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "redchat-cli {args:?}");
}

fn exists(app: &AppUnderTest, what: &str, css: &str) {
    app.wait_for(
        what,
        "return !!document.querySelector(arguments[0])",
        json!([css]),
    );
}

#[test]
fn forged_messages_are_loud_and_the_original_client_is_unsigned() {
    let server = RedisServer::start();
    let home = DataHome::new("trust");
    let addr = format!("127.0.0.1:{}", server.port());
    let app = AppUnderTest::start(&home.0);
    app.connect_as(&addr, "alice");
    // alice writes to bob first: a contact. bob answers from the CLI (signed).
    app.type_and_enter("#compose", "@bob hi bob");
    cli(&server, &["send", "--user", "bob", "@alice hi alice"]);
    app.click("#conversations li[data-conversation='@bob']");
    exists(
        &app,
        "bob's signed message",
        "#messages .message[data-trust='signed']",
    );
    // Someone publishes as bob with a signature that does not verify.
    server.publish(
        "alice",
        r#"{"Sender":"bob","To":"alice","Content":"@alice wire me money","MessageId":"f1","SentAt":"2026-01-01T00:00:00Z","Key":"AAAA","Sig":"AAAA"}"#,
    );
    exists(
        &app,
        "the forged message's warning",
        "#messages .message[data-trust='invalid'] .trust-warning",
    );
    // Someone publishes as alice herself: never "(you)".
    server.publish(
        "alice",
        r#"{"Sender":"alice","To":"alice","Content":"@alice I quit"}"#,
    );
    // The original WPF client (no signature): shown calmly as unsigned, under Requests.
    server.publish(
        "alice",
        r#"{"Id":0,"Sender":"carol","Content":"@alice hello from WPF","ReceivedAt":"0001-01-01T00:00:00"}"#,
    );
    exists(
        &app,
        "carol's request",
        "#requests li[data-conversation='@carol']",
    );
    app.click("#requests li[data-conversation='@carol']");
    exists(
        &app,
        "carol's message marked unsigned",
        "#messages .message[data-trust='unsigned'] .trust-tag.unsigned",
    );
    // Accept carol: a normal conversation now.
    app.click("button[data-accept='@carol']");
    exists(
        &app,
        "carol among direct messages",
        "#conversations li[data-conversation='@carol']",
    );
    // The contact panel: the safety number, and where our key is kept.
    app.click("#conversations li[data-conversation='@bob']");
    app.click("#contact-info");
    app.wait_for(
        "the safety number",
        "const s = document.querySelector('#safety-number'); return !!s && s.querySelectorAll('.group').length === 12",
        json!([]),
    );
    app.wait_for(
        "where the key is kept",
        "const k = document.querySelector('#key-storage'); return !!k && k.textContent.length > 0",
        json!([]),
    );
    app.click("#mark-verified");
    app.wait_for(
        "verified",
        "const v = document.querySelector('#contact-verified'); return !!v && v.dataset.verified === 'true'",
        json!([]),
    );
    app.click("#contact-close");
    cli(&server, &["send", "--user", "bob", "@alice verified now?"]);
    exists(
        &app,
        "bob's next message verified",
        "#messages .message[data-trust='verified']",
    );
    // The sidebar re-renders as messages arrive: a click at a row's old position can land
    // on another row. Click the row itself (by script) until alice's conversation is open.
    app.wait_for(
        "alice's conversation open",
        "const t = document.querySelector('#conversation-title'); if (t && t.textContent.includes('@alice')) return true; const el = document.querySelector(arguments[0]); if (el) el.click(); return false;",
        json!(["#conversations li[data-conversation='@alice'], #requests li[data-conversation='@alice']"]),
    );
    exists(
        &app,
        "the message claiming to be alice",
        "#messages .message.claims-me",
    );
    let mine_claims = app.execute(
        "return [...document.querySelectorAll('#messages .message')].filter(e => e.textContent.includes('I quit') && e.textContent.includes('(you)')).length",
        json!([]),
    );
    assert_eq!(
        mine_claims,
        json!(0),
        "a forged message is never shown as (you)"
    );
    app.close();
}

/// The published key of `user` (each connect writes its own).
fn published_key(server: &RedisServer, user: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(format!("redchat:{{u:{user}}}:identity"))
        .query(&mut server.raw())
        .unwrap()
}

#[test]
fn a_second_computer_imports_the_identity_from_the_window() {
    let server = RedisServer::start();
    let addr = format!("127.0.0.1:{}", server.port());
    let (home_a, home_b) = (DataHome::new("import-a"), DataHome::new("import-b"));
    let laptop = AppUnderTest::start(&home_a.0);
    laptop.connect_as(&addr, "alice");
    let deadline = std::time::Instant::now() + redchat_e2e::WAIT;
    let laptop_key = loop {
        if let Some(k) = published_key(&server, "alice") {
            break k;
        }
        assert!(std::time::Instant::now() < deadline, "no key published");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // The laptop shows its identity key (after the warning step).
    laptop.type_and_enter("#new-conversation", "@bob");
    laptop.click("#contact-info");
    laptop.click("#export-identity");
    laptop.click("#export-identity-show");
    let secret = laptop
        .wait_for(
            "the identity key shown",
            "const t = document.querySelector('#identity-secret'); return t && t.value.startsWith('redchat-identity-v1:') ? t.value : false",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    laptop.click("#hide-identity");
    laptop.wait_for(
        "the key hidden again",
        "const t = document.querySelector('#identity-secret'); return !t || t.value === ''",
        json!([]),
    );

    // The desktop starts with a key of its own, then imports the laptop's and reconnects.
    let desktop = AppUnderTest::start(&home_b.0);
    desktop.connect_as(&addr, "alice");
    let deadline = std::time::Instant::now() + redchat_e2e::WAIT;
    while published_key(&server, "alice").as_deref() == Some(laptop_key.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the desktop never published its own key"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    desktop.type_and_enter("#new-conversation", "@bob");
    desktop.click("#contact-info");
    desktop.click("#import-identity");
    desktop.type_into("#identity-import-text", &secret);
    desktop.click("#identity-import-submit");
    let deadline = std::time::Instant::now() + redchat_e2e::WAIT;
    while published_key(&server, "alice").as_deref() != Some(laptop_key.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "after the import the desktop should reconnect signing as the laptop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    desktop.wait_for(
        "connected again",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    // The secret is on no disk but in the identity key file (no keychain here, 0600).
    let hits = home_b.files_containing(&secret[20..]);
    assert!(
        hits.iter().all(|p| p.ends_with("identity.key")),
        "the imported key is only in identity.key: {hits:?}"
    );
    laptop.close();
    desktop.close();
}
