//! Team chat in the real window (a module of the one e2e binary): two windows of one user and a CLI member in `#team`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use redchat_core::testing::RedisServer;
use redchat_e2e::{AppUnderTest, DataHome, WAIT, cli_binary};
use serde_json::json;

fn cli(server: &RedisServer, args: &[&str]) -> Command {
    let bin = cli_binary();
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p redchat-cli",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("REDCHAT_URL", server.url())
        .env(
            "REDCHAT_DATA_DIR",
            std::env::temp_dir().join(format!("redchat-e2e-cli-{}", server.port())),
        )
        .env_remove("REDCHAT_PASSWORD");
    cmd
}

fn run(server: &RedisServer, args: &[&str]) {
    let status = cli(server, args).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "redchat-cli {args:?}");
}

fn row(conversation: &str) -> String {
    format!("#conversations li[data-conversation='{conversation}']")
}

/// The badge under `row` shows `text` (an empty string: hidden or absent).
fn badge(app: &AppUnderTest, what: &str, row: &str, class: &str, text: &str) {
    app.wait_for(
        what,
        "const b = document.querySelector(arguments[0] + ' ' + arguments[1]); \
         const shown = b && !b.hidden && b.textContent.trim() !== '' ? b.textContent.trim() : ''; \
         return shown === arguments[2] ? 'ok' : false",
        json!([row, class, text]),
    );
}

/// Copies the identity key file of one data home into another (what `identity --import` does).
fn import_identity(from: &DataHome, to: &DataHome) {
    let found = from.files_containing("redchat-identity-v1:");
    let file = found
        .first()
        .expect("the first window saved its identity key");
    let relative = file.strip_prefix(&from.0).unwrap();
    let target = to.0.join(relative);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(file, target).unwrap();
}

fn open_new(app: &AppUnderTest, text: &str) {
    app.type_and_enter("#new-conversation", text);
}

#[test]
fn team_chat_with_two_windows_of_one_user_and_a_cli_member() {
    let server = RedisServer::start();
    let addr = format!("127.0.0.1:{}", server.port());
    run(&server, &["join", "--user", "carol", "#team"]);
    let mut carol = cli(&server, &["listen", "--user", "carol", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, carol_lines) = std::sync::mpsc::channel::<String>();
    let stdout = carol.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let home_a = DataHome::new("team-a");
    let home_b = DataHome::new("team-b");
    let a = AppUnderTest::start(&home_a.0);
    a.connect_as(&addr, "alice");
    // Join from the "new conversation" box; the room opens with its member list.
    open_new(&a, "#team");
    a.wait_for(
        "#team open",
        "return document.querySelector('#conversation-title').textContent.includes('#team')",
        json!([]),
    );
    a.wait_for(
        "carol online in the member list",
        "return !!document.querySelector(\"#members li[data-user='carol'] .presence-dot.online\")",
        json!([]),
    );
    // A second window of alice follows the join. It is the same person: the second device
    // imported the first one's identity key (no keychain here, so it is a file).
    import_identity(&home_a, &home_b);
    let b = AppUnderTest::start(&home_b.0);
    b.connect_as(&addr, "alice");
    b.wait_for(
        "#team in the second window",
        &format!("return !!document.querySelector(\"{}\")", row("#team")),
        json!([]),
    );

    // Talk: alice's line reaches the CLI member.
    a.type_and_enter("#compose", "hi carol");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let line = carol_lines
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("carol's listener prints alice's room message");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "chat" && v["content"] == "hi carol" {
            assert_eq!(v["room"], "team");
            break;
        }
    }

    // Both windows look elsewhere; carol writes with a mention: unread and mention badges.
    open_new(&a, "@dave");
    open_new(&b, "@dave");
    run(
        &server,
        &["send", "--user", "carol", "#team look at this @alice"],
    );
    run(&server, &["send", "--user", "carol", "#team and this"]);
    for (app, name) in [(&a, "first"), (&b, "second")] {
        badge(
            app,
            &format!("2 unread in the {name} window"),
            &row("#team"),
            ".unread-badge",
            "2",
        );
        badge(
            app,
            &format!("1 mention in the {name} window"),
            &row("#team"),
            ".mention-badge",
            "@1",
        );
        app.wait_for(
            "title with the unread count",
            "return document.title === '(2) Redchat'",
            json!([]),
        );
    }
    // Opening it in one window clears it in both.
    b.click(&row("#team"));
    badge(
        &b,
        "read in the second window",
        &row("#team"),
        ".unread-badge",
        "",
    );
    badge(
        &a,
        "cleared in the first window too",
        &row("#team"),
        ".unread-badge",
        "",
    );
    a.wait_for(
        "title without a count",
        "return document.title === 'Redchat'",
        json!([]),
    );

    // A typing indicator (carol's client signals on the room channel).
    let typing =
        r#"{"Kind":"typing","Sender":"carol","Room":"team","SentAt":"2026-01-01T00:00:00Z"}"#;
    assert!(server.publish("redchat:{r:team}:live", typing) >= 2);
    b.wait_for(
        "carol is typing",
        "return document.querySelector('#typing').textContent.includes('carol')",
        json!([]),
    );

    // The CLI member crashes: her dot goes offline within 30 s, with no farewell.
    carol.kill().unwrap();
    carol.wait().unwrap();
    b.wait_for_within(
        "carol offline after the crash",
        "return !!document.querySelector(\"#members li[data-user='carol'] .presence-dot.offline\")",
        json!([]),
        Duration::from_secs(30),
    );
    a.close();
    b.close();
}
