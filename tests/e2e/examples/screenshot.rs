//! Takes docs/screenshot.png (alice and bob chatting in two real Redchat windows),
//! docs/screenshot-rooms.png (a room with members, presence, a mention, typing, unread),
//! docs/screenshot-trust.png (a forged message, a new key, the contact panel),
//! docs/screenshot-reconnecting.png, docs/screenshot-doctor.png (Settings' doctor on a
//! server whose CA is not trusted), docs/screenshot-sentinel.png (a window behind Sentinel
//! after the master was killed), docs/screenshot-cluster.png (a room on a Redis Cluster) and
//! docs/screenshot-notification.png (a desktop
//! notification drawn by dunst). Alice's window is in the light theme, Bob's in the dark one.
//!
//! Run with `make screenshot` (Xvfb, a spawned redis-server, tauri-driver).

use std::process::Command;

use redchat_core::testing::RedisServer;
use redchat_e2e::desktop::{DbusSession, OtherWindow};
use redchat_e2e::{AppUnderTest, DataHome};
use serde_json::json;

fn wait_entry(app: &AppUnderTest, needle: &str) {
    app.wait_for(
        "message",
        "return [...document.querySelectorAll('#messages .entry')].some(e => e.textContent.includes(arguments[0]))",
        json!([needle]),
    );
}

/// Saves the whole (virtual) screen to `path`.
fn capture(path: &std::path::Path) {
    // WebKitGTK under Xvfb repaints after the DOM changed: let it settle before capturing.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .status()
        .expect("imagemagick's import");
    assert!(status.success(), "screenshot failed");
    println!("wrote {}", path.display());
}

fn main() {
    let mut server = RedisServer::start();
    let addr = format!("127.0.0.1:{}", server.port());
    let (home_a, home_b) = (DataHome::new("shot-alice"), DataHome::new("shot-bob"));
    // Alice's window talks to a desktop with a notification daemon (dunst draws on the same X
    // display); Bob's has no D-Bus (two windows on one bus would be one instance).
    let bus = DbusSession::start();
    let alice =
        AppUnderTest::start_with_env(&home_a.0, &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)]);
    let bob = AppUnderTest::start(&home_b.0);
    bob.execute(
        "localStorage.setItem('redchat.theme', 'dark'); document.documentElement.dataset.theme = 'dark'",
        json!([]),
    );
    alice.set_window_rect(0, 0, 800, 760);
    bob.set_window_rect(800, 0, 800, 760);
    // Waiting in bob's inbox stream before he connects: shown with a catch-up banner.
    let mut early = server.raw();
    let _: String = redis::cmd("XADD")
        .arg("redchat:{u:bob}:inbox")
        .arg("*")
        .arg("payload")
        .arg(r#"{"Id":0,"Sender":"erin","Content":"@bob sent while you were offline","ReceivedAt":"0001-01-01T00:00:00","MessageId":"shot-1","Durable":true,"Redchat":1}"#)
        .query(&mut early)
        .unwrap();
    alice.connect_as(&format!("redis://{addr}"), "Alice");
    bob.connect_as(&format!("redis://{addr}"), "Bob");

    alice.type_and_enter("#compose", "@bob hi Bob! Is the deploy done?");
    // alice is a stranger to bob: her first message is a request; bob accepts it.
    bob.wait_for(
        "alice's request",
        "return !!document.querySelector(\"button[data-accept='@alice']\")",
        json!([]),
    );
    bob.click("button[data-accept='@alice']");
    bob.wait_for(
        "alice's conversation",
        "return !!document.querySelector(\"#conversations li[data-key='alice']\")",
        json!([]),
    );
    bob.click("#conversations li[data-key='alice']");
    wait_entry(&bob, "Is the deploy done?");
    bob.type_and_enter(
        "#compose",
        "Yes, 2 minutes ago. Redis pub/sub only, no chat server.",
    );
    wait_entry(&alice, "2 minutes ago");
    alice.type_and_enter(
        "#compose",
        "Great. `make deploy` went fine? Runbook: https://example.com/runbook",
    );
    wait_entry(&bob, "Runbook");
    alice.type_and_enter("#compose", "I'll tell carol too.");
    wait_entry(&bob, "tell carol");
    alice.type_and_enter("#compose", "@carol the deploy is done");
    alice.wait_for(
        "stored for carol",
        "return !!document.querySelector(\"#messages .entry.mine[data-state='stored']\")",
        json!([]),
    );
    let mut conn = redis::Client::open(format!("redis://{addr}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let seed = r#"{"Id":0,"Sender":"dave","Content":"@bob hello from the original WPF client","ReceivedAt":"0001-01-01T00:00:00"}"#;
    let _: u64 = redis::cmd("PUBLISH")
        .arg("bob")
        .arg(seed)
        .query(&mut conn)
        .unwrap();
    let _: u64 = redis::cmd("PUBLISH")
        .arg("bob")
        .arg("plain text from redis-cli")
        .query(&mut conn)
        .unwrap();
    bob.wait_for(
        "dave's request",
        "return !!document.querySelector(\"#requests li[data-conversation='@dave']\")",
        json!([]),
    );
    bob.click("#conversations li[data-key='alice']");
    alice.click("#conversations li[data-key='bob']");
    alice.type_into("#compose", "@bob typing without losing my line…");

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshot.png");
    capture(&out);

    // Alice looks away; Bob's next message reaches her desktop as a notification, drawn by
    // dunst (started only now, so nothing earlier shows). Her window allows one notification
    // per 10 s, so it may be held that long after the ones that went nowhere: wait until
    // dunst says it shows one.
    let mut dunst = Command::new("dunst")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dunst (apt-get install dunst)");
    let other = OtherWindow::open();
    other.focus();
    alice.wait_for("alice unfocused", "return !document.hasFocus()", json!([]));
    bob.type_and_enter("#compose", "Board is up: the release is green.");
    wait_entry(&alice, "release is green");
    let shown = || {
        Command::new("dunstctl")
            .args(["count", "displayed"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "1")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !shown() {
        assert!(
            std::time::Instant::now() < deadline,
            "dunst showed no notification"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    capture(&out.with_file_name("screenshot-notification.png"));
    drop(other);
    let _ = dunst.kill();
    let _ = dunst.wait();

    // Someone else writes as alice: a signature that does not verify, then a valid one by
    // another key. Bob opens the contact panel to compare safety numbers.
    let forged = r#"{"Sender":"alice","To":"bob","Content":"@bob please send me the prod password","MessageId":"f1","SentAt":"2026-12-02T09:00:00Z","Key":"AAAA","Sig":"AAAA"}"#;
    let _: u64 = redis::cmd("PUBLISH")
        .arg("bob")
        .arg(forged)
        .query(&mut conn)
        .unwrap();
    let mallory = redchat_core::Identity::generate();
    let (_, payload) = redchat_core::wire::encode_chat(
        "alice",
        &redchat_core::ConversationId::parse("@bob").unwrap(),
        "bob",
        "@bob new laptop, same alice. Trust me?",
        false,
        Some(&mallory),
    )
    .unwrap();
    let _: u64 = redis::cmd("PUBLISH")
        .arg("bob")
        .arg(payload)
        .query(&mut conn)
        .unwrap();
    bob.wait_for(
        "the forged and the new-key messages",
        "return !!document.querySelector(\"#messages .message[data-trust='invalid']\") && !!document.querySelector(\"#messages .message[data-trust='keyChanged']\")",
        json!([]),
    );
    bob.click("#contact-info");
    bob.wait_for(
        "the safety number",
        "const s = document.querySelector('#safety-number'); return !!s && s.querySelectorAll('.group').length === 12",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-trust.png"));
    bob.click("#contact-close");

    // A room: members with presence dots, a mention, typing, unread badges.
    let now = redchat_core::wire::now_ms();
    let mut pipe = redis::pipe();
    pipe.cmd("SADD")
        .arg("redchat:{r:team}:members")
        .arg("carol")
        .arg("erin")
        .ignore();
    pipe.cmd("ZADD")
        .arg("redchat:directory")
        .arg(now + 600_000)
        .arg("carol")
        .ignore();
    pipe.cmd("ZADD")
        .arg("redchat:directory")
        .arg(now - 3_600_000)
        .arg("erin")
        .ignore();
    let _: () = pipe.query(&mut conn).unwrap();
    for app in [&alice, &bob] {
        app.type_and_enter("#new-conversation", "#team");
        app.wait_for(
            "#team open",
            "return document.querySelector('#conversation-title').textContent.includes('#team')",
            json!([]),
        );
    }
    bob.type_and_enter("#compose", "Standup in 5. @alice can you share the board?");
    wait_entry(&alice, "share the board");
    alice.type_and_enter("#compose", "On it, sharing in a minute.");
    wait_entry(&bob, "sharing in a minute");
    let _: u64 = redis::cmd("PUBLISH")
        .arg("bob")
        .arg(r#"{"Id":0,"Sender":"dave","Content":"@bob are you joining the standup?","ReceivedAt":"0001-01-01T00:00:00"}"#)
        .query(&mut conn)
        .unwrap();
    bob.wait_for(
        "dave's request count",
        "const b = document.querySelector('#requests-count'); return !!b && !b.hidden",
        json!([]),
    );
    alice.wait_for(
        "members with dots",
        "return document.querySelectorAll('#members li[data-user]').length >= 4",
        json!([]),
    );
    let _: u64 = redis::cmd("PUBLISH")
        .arg("redchat:{r:team}:live")
        .arg(r#"{"Kind":"typing","Sender":"carol","Room":"team"}"#)
        .query(&mut conn)
        .unwrap();
    alice.wait_for(
        "carol typing",
        "return document.querySelector('#typing').textContent.includes('carol')",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-rooms.png"));
    alice.click("#conversations li[data-key='bob']");

    // Search over what Alice's computer stored, every conversation (Ctrl+Shift+F).
    alice.click("#open-search");
    alice.type_into("#search-input", "deploy");
    alice.wait_for(
        "search hits",
        "return document.querySelectorAll('#search-results li.search-hit mark.hit').length >= 2",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-search.png"));
    alice.click("#search-results li.search-hit");
    alice.wait_for(
        "the hit opened",
        "return document.querySelector('#search').hidden",
        json!([]),
    );

    // The same windows while the server is down: reconnect attempts, a queued message.
    server.kill();
    alice.type_and_enter("#compose", "@bob this one waits in the outbox");
    alice.wait_for(
        "the queued message",
        "return [...document.querySelectorAll(\"#messages .entry.mine[data-state='queued']\")].some(e => e.textContent.includes('waits in the outbox'))",
        json!([]),
    );
    alice.wait_for(
        "reconnecting with a countdown",
        "return document.querySelector('#status').dataset.phase === 'reconnecting' && Number(document.querySelector('#status').dataset.attempt) >= 2",
        json!([]),
    );
    let offline = out.with_file_name("screenshot-reconnecting.png");
    capture(&offline);

    // The doctor in Settings: a company server signed by a CA this computer does not trust.
    let pki = redchat_core::testing::TestPki::new();
    let company = RedisServer::start_tls_with(&pki, "no", &[]);
    bob.click("#open-settings");
    bob.type_into(
        "#connection",
        &format!("rediss://localhost:{}", company.port()),
    );
    bob.click("#run-doctor");
    bob.wait_for(
        "the doctor's problems",
        "return !!document.querySelector('#doctor-problems .problem')",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-doctor.png"));
    alice.close();
    bob.close();

    // Behind Sentinel, after the master was killed: the window follows the promoted replica.
    let mut group = redchat_core::testing::SentinelGroup::start();
    let home_c = DataHome::new("shot-sentinel");
    let carol = AppUnderTest::start(&home_c.0);
    carol.set_window_rect(0, 0, 1600, 760);
    carol.connect_as(&group.url(), "carol");
    carol.type_and_enter("#new-conversation", "#ops");
    carol.wait_for(
        "#ops open",
        "return document.querySelector('#conversation-title').textContent.includes('#ops')",
        json!([]),
    );
    carol.type_and_enter("#compose", "before the failover: primary on duty");
    wait_entry(&carol, "primary on duty");
    let old = group.master_port();
    group.master().kill();
    let new = group.wait_failover(old, std::time::Duration::from_secs(60));
    carol.wait_for(
        "connected to the promoted replica",
        "return document.querySelector('#status').textContent.endsWith(arguments[0])",
        json!([format!("127.0.0.1:{new}")]),
    );
    carol.type_and_enter("#compose", "after the failover: still here, nothing lost");
    carol.wait_for(
        "stored on the new master",
        "return [...document.querySelectorAll(\"#messages .entry.mine\")].some(e => e.textContent.includes('nothing lost') && e.dataset.state !== 'queued')",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-sentinel.png"));
    carol.close();
    drop(group);

    // On a Redis Cluster: a room on sharded pub/sub, the status naming the nodes.
    let cluster = redchat_core::testing::ClusterGroup::start();
    let home_d = DataHome::new("shot-cluster");
    let dave = AppUnderTest::start(&home_d.0);
    dave.set_window_rect(0, 0, 1600, 760);
    dave.connect_as(&cluster.url(), "dave");
    dave.type_and_enter("#new-conversation", "#infra");
    dave.wait_for(
        "#infra open",
        "return document.querySelector('#conversation-title').textContent.includes('#infra')",
        json!([]),
    );
    dave.type_and_enter(
        "#compose",
        "this room lives on one shard: SSUBSCRIBE / SPUBLISH",
    );
    wait_entry(&dave, "SPUBLISH");
    dave.wait_for(
        "the cluster named in the status bar",
        "return document.querySelector('#topology').textContent === 'Cluster · 6 nodes'",
        json!([]),
    );
    capture(&out.with_file_name("screenshot-cluster.png"));
    dave.close();
}
