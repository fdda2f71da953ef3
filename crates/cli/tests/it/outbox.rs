//! The outbox across a real process death: `chat` killed with SIGKILL while messages wait.

use std::io::Write;

use serde_json::Value;

use crate::support::*;

/// The next chat message on a `listen --json` stream (status/catch-up lines skipped).
fn next_chat(lines: &Lines, what: &str) -> String {
    loop {
        let line: Value = serde_json::from_str(&lines.next(what)).expect("JSON line");
        if line["kind"] == "chat" {
            return line["content"].as_str().unwrap().to_string();
        }
    }
}

fn next_containing(lines: &Lines, needle: &str) -> String {
    loop {
        let line = lines.next(needle);
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn messages_queued_by_a_killed_chat_are_delivered_after_it_restarts() {
    let mut server = RedisServer::start_persistent();
    let dir = data_dir(&server);
    server.kill();

    // The server is down: chat starts anyway and keeps the messages in its outbox on disk.
    let mut alice = Lines::spawn(cli_process(&server, &["chat", "--user", "alice"]));
    next_containing(&alice, "Chatting as alice");
    let texts = ["@bob one", "@bob two", "@bob three"];
    for text in texts {
        writeln!(alice.child.stdin.as_mut().unwrap(), "{text}").unwrap();
        next_containing(&alice, "queued: not connected");
    }
    // Killed outright: no shutdown, nothing flushed on the way out.
    alice.child.kill().unwrap();
    alice.child.wait().unwrap();
    drop(alice);

    server.restart();
    let bob = Lines::spawn(cli_process(&server, &["listen", "--user", "bob", "--json"]));
    wait_numsub(&server, "bob", 1);
    let mut again = Lines::spawn(cli_process(&server, &["chat", "--user", "alice"]));
    for text in texts {
        let line = next_containing(&again, "queued for bob");
        assert!(
            line.ends_with(text),
            "found in the outbox, in order: {line}"
        );
    }
    for text in texts {
        assert_eq!(next_chat(&bob, text), text, "delivered once, in order");
    }
    // Nothing twice: the next message bob sees is the next one alice sends.
    writeln!(again.child.stdin.as_mut().unwrap(), "@bob four").unwrap();
    assert_eq!(next_chat(&bob, "the fourth"), "@bob four");
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}
