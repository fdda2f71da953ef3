//! `send`, `listen`, `broadcast`: what scripts rely on.

use std::io::Write;

use predicates::str::contains as predicates_str;
use serde_json::Value;

use crate::support::*;

#[test]
fn send_exit_codes_tell_delivered_from_not_delivered_from_error() {
    let server = RedisServer::start();
    let listener = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "alice", "--json"],
    ));
    wait_numsub(&server, "alice", 1);

    cli(&server)
        .args(["send", "--user", "bob", "@Alice hi from a script"])
        .assert()
        .code(0)
        .stdout("1\n");
    let line = next_json(&listener, "alice's message");
    assert_eq!(line["kind"], "chat");
    assert_eq!(line["content"], "@alice hi from a script");

    // Durable (default): kept for nobody, so the script succeeded.
    cli(&server)
        .args(["send", "--user", "bob", "--to", "nobody", "anyone?"])
        .assert()
        .code(0)
        .stdout("0\n")
        .stderr(predicates_str(
            "nobody is not active: stored, delivered when they connect",
        ));
    // Live-only: gone, and the exit code says so.
    cli(&server)
        .args([
            "--live-only",
            "send",
            "--user",
            "bob",
            "--to",
            "nobody",
            "anyone?",
        ])
        .assert()
        .code(3)
        .stdout("0\n")
        .stderr(predicates_str(
            "nobody is not active: the message was not delivered",
        ));

    cli(&server)
        .args(["send", "--user", "bob", "no recipient"])
        .assert()
        .code(1)
        .stderr(predicates_str("start the message with @name"));
    cli(&server)
        .args(["send", "--user", "b*b", "@alice x"])
        .assert()
        .code(1)
        .stderr(predicates_str("cannot contain \"*\""));
    cli(&server)
        .args([
            "--url",
            "redis://h:99999",
            "send",
            "--user",
            "bob",
            "@alice x",
        ])
        .assert()
        .code(1)
        .stderr(predicates_str("at character 11"));
    cli(&server).args(["send"]).assert().code(2);
}

#[test]
fn wrong_password_and_unreachable_server_fail_clearly() {
    let server = RedisServer::start_with(&["--requirepass", "pw"]);
    let wrong = format!("127.0.0.1:{},password=nope", server.port());
    cli(&server)
        .args(["--url", &wrong, "send", "--user", "bob", "@alice x"])
        .assert()
        .code(1)
        .stderr(predicates_str("authentication failed"));
    // The password from the environment, never the command line.
    cli(&server)
        .env("REDCHAT_PASSWORD", "pw")
        .args(["--live-only", "send", "--user", "bob", "@alice x"])
        .assert()
        .code(3);
    let nowhere = format!("redis://127.0.0.1:{}", redchat_core::testing::free_port());
    cli(&server)
        .args(["--url", &nowhere, "send", "--user", "bob", "@alice x"])
        .assert()
        .code(1)
        .stderr(predicates_str("connection refused"));
}

#[test]
fn listen_json_is_one_object_per_line_for_every_payload() {
    let server = RedisServer::start();
    let listener = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "alice", "--json"],
    ));
    wait_numsub(&server, "alice", 1);
    publish(
        &server,
        "alice",
        r#"{"Id":0,"Sender":"bob","Content":"@alice classic","ReceivedAt":"0001-01-01T00:00:00"}"#,
    );
    publish(&server, "alice", "plain words");
    publish(
        &server,
        "alice",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    );
    let kinds: Vec<Value> = (0..3).map(|_| next_json(&listener, "event line")).collect();
    assert_eq!(kinds[0]["kind"], "chat");
    assert_eq!(kinds[0]["legacy"], true);
    assert_eq!(kinds[1]["kind"], "plain");
    assert_eq!(kinds[1]["text"], "plain words");
    assert_eq!(kinds[2]["kind"], "unreadable");
    assert!(kinds[2]["reason"].as_str().unwrap().contains("nested"));
}

#[test]
fn listen_human_output_neutralises_terminal_escapes() {
    let server = RedisServer::start();
    let listener = Lines::spawn(cli_process(&server, &["listen", "--user", "alice"]));
    wait_numsub(&server, "alice", 1);
    publish(
        &server,
        "alice",
        "{\"Sender\":\"bob\",\"Content\":\"hi \\u001b[2J there\"}",
    );
    let line = listener.next("bob's line");
    assert!(
        line.ends_with("bob [unsigned] [request]: hi ·[2J there"),
        "escape must be neutralised: {line:?}"
    );
    assert!(!line.contains('\u{1b}'));
}

#[test]
fn broadcast_speaks_plain_text_on_the_shared_channel() {
    let server = RedisServer::start();
    let mut sub_conn = raw(&server);
    sub_conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut sub = sub_conn.as_pubsub();
    sub.subscribe("messages").unwrap();
    let mut alice = Lines::spawn(cli_process(&server, &["broadcast", "--user", "alice"]));
    wait_numsub(&server, "messages", 2);
    next_containing(&alice, "on ~messages");

    writeln!(alice.child.stdin.as_mut().unwrap(), "hello everyone").unwrap();
    let msg = sub.get_message().unwrap();
    assert_eq!(
        msg.get_payload::<String>().unwrap(),
        "alice: hello everyone",
        "plain text, like the original console client"
    );

    publish(&server, "messages", "bob: hi alice");
    let line = next_containing(&alice, "bob: hi alice");
    assert!(line.ends_with("~messages: bob: hi alice"), "{line:?}");
}

/// The next NDJSON line that is a message (status and catch-up lines come first).
pub fn next_json(lines: &Lines, what: &str) -> Value {
    loop {
        let line: Value = serde_json::from_str(&lines.next(what)).expect("every line is JSON");
        match line["kind"].as_str() {
            Some("chat" | "plain" | "unreadable") => return line,
            Some("status") => assert_eq!(line["state"], "connected", "{line}"),
            Some("caughtUp") => assert_eq!(line["count"], 0, "nothing to catch up: {line}"),
            // Rooms, presence and unread counts have their own kinds.
            Some(
                "joined" | "who" | "presence" | "unread" | "members" | "typing" | "membership",
            ) => {}
            _ => panic!("unexpected line {line}"),
        }
    }
}

/// The next line containing `needle` (status lines like "* connected" may come first).
pub fn next_containing(lines: &Lines, needle: &str) -> String {
    loop {
        let line = lines.next(needle);
        if line.contains(needle) {
            return line;
        }
    }
}
