//! `join`, `leave`, `rooms`, `members`, `who`, `send '#team …'`, and `listen --json` in a room:
//! the names scripts depend on.

use serde_json::Value;

use crate::support::*;

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// The next listen line of `kind`, skipping the others.
fn next_kind(lines: &Lines, kind: &str) -> Value {
    loop {
        let line: Value = serde_json::from_str(&lines.next(kind)).expect("JSON line");
        if line["kind"] == kind {
            return line;
        }
    }
}

#[test]
fn a_script_joins_talks_and_lists_members_of_a_room() {
    let server = RedisServer::start();
    cli(&server)
        .args(["join", "--user", "carol", "#Team"])
        .assert()
        .success()
        .stdout("joined #team\n");
    let err = cli(&server)
        .args(["join", "--user", "carol", "#two words"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&err).contains("a room name cannot contain spaces"),
        "the precise error: {}",
        String::from_utf8_lossy(&err)
    );
    let listener = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "carol", "--json"],
    ));
    wait_numsub(&server, "redchat:{r:team}:live", 1);
    cli(&server)
        .args(["join", "--user", "alice", "#team"])
        .assert()
        .success();
    let own = next_kind(&listener, "membership");
    assert_eq!(
        own["user"], "carol",
        "a member's history starts at their own join"
    );
    let join = next_kind(&listener, "membership");
    assert_eq!(
        (join["user"].as_str(), join["action"].as_str()),
        (Some("alice"), Some("join"))
    );
    cli(&server)
        .args(["send", "--user", "alice", "#team standup in 5 @carol"])
        .assert()
        .success();
    let chat = next_kind(&listener, "chat");
    assert_eq!(
        chat["room"], "team",
        "room messages carry the room without #"
    );
    assert_eq!(chat["conversation"], "#team");
    assert_eq!(chat["content"], "standup in 5 @carol");
    assert_eq!(chat["mentionsMe"], true);
    // A DM has no room.
    cli(&server)
        .args(["send", "--user", "alice", "@carol psst"])
        .assert()
        .success();
    let dm = next_kind(&listener, "chat");
    assert!(dm["room"].is_null(), "{dm}");

    let rooms = cli(&server)
        .args(["rooms", "--user", "carol", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        json_lines(&rooms),
        vec![serde_json::json!({"conversation": "#team", "room": "team"})]
    );
    // carol's listener shares presence; alice only ran one-shot commands.
    let deadline = std::time::Instant::now() + WAIT;
    let members = loop {
        let out = cli(&server)
            .args(["members", "#team", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let members = json_lines(&out);
        let carol_online = members
            .iter()
            .any(|m| m["user"] == "carol" && m["online"] == true);
        if carol_online || std::time::Instant::now() > deadline {
            break members;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let by_user = |u: &str| {
        members
            .iter()
            .find(|m| m["user"] == u)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_user("carol")["online"], true, "{members:?}");
    assert_eq!(by_user("alice")["online"], false, "{members:?}");
    let who = cli(&server)
        .args(["who", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let who = json_lines(&who);
    assert!(
        who.iter()
            .any(|m| m["user"] == "carol" && m["online"] == true),
        "{who:?}"
    );
    assert!(
        who.iter().all(|m| m["online"] == true),
        "only online users: {who:?}"
    );

    cli(&server)
        .args(["leave", "--user", "alice", "#team"])
        .assert()
        .success()
        .stdout("left #team\n");
    let leave = next_kind(&listener, "membership");
    assert_eq!(leave["action"], "leave");
}

#[test]
fn help_documents_the_room_and_presence_commands() {
    let server = RedisServer::start();
    let out = cli(&server)
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8_lossy(&out);
    for name in [
        "join",
        "leave",
        "rooms",
        "members",
        "who",
        "#team",
        "--no-presence",
    ] {
        assert!(help.contains(name), "--help mentions {name}");
    }
    let out = cli(&server)
        .args(["listen", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8_lossy(&out);
    for field in ["\"room\"", "typing", "presence", "membership"] {
        assert!(help.contains(field), "listen --help documents {field}");
    }
}

#[test]
fn chat_understands_join_room_lines_who_and_leave() {
    use std::io::Write;

    use crate::scripts::next_containing;

    let server = RedisServer::start();
    cli(&server)
        .args(["join", "--user", "carol", "#team"])
        .assert()
        .success();
    let carol = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "carol", "--json"],
    ));
    wait_numsub(&server, "redchat:{r:team}:live", 1);
    let mut alice = Lines::spawn(cli_process(&server, &["chat", "--user", "alice"]));
    wait_numsub(&server, "alice", 1);
    let stdin = alice.child.stdin.as_mut().unwrap();
    writeln!(stdin, "/join #team").unwrap();
    next_containing(&alice, "joined #team");
    // A line without @ or # goes to the conversation just opened: the room.
    writeln!(alice.child.stdin.as_mut().unwrap(), "hello room").unwrap();
    let chat = next_kind(&carol, "chat");
    assert_eq!(
        (chat["room"].as_str(), chat["content"].as_str()),
        (Some("team"), Some("hello room"))
    );
    writeln!(alice.child.stdin.as_mut().unwrap(), "#team and once more").unwrap();
    assert_eq!(next_kind(&carol, "chat")["content"], "and once more");
    writeln!(alice.child.stdin.as_mut().unwrap(), "/who").unwrap();
    let who = next_containing(&alice, "* online:");
    assert!(who.contains("carol"), "{who}");
    writeln!(alice.child.stdin.as_mut().unwrap(), "/leave").unwrap();
    next_containing(&alice, "left #team");
    let members: Vec<Value> = json_lines(
        &cli(&server)
            .args(["members", "#team", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert!(members.iter().all(|m| m["user"] != "alice"), "{members:?}");
}
