//! `search` and `export` over what `listen` stored.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// `listen` stores what it receives; SIGINT ends it cleanly (the store written).
fn listen_and_store(server: &RedisServer, lines: &[&str]) {
    let listener = Lines::spawn(cli_process(
        server,
        &["listen", "--user", "alice", "--json"],
    ));
    wait_numsub(server, "alice", 1);
    for line in lines {
        cli(server)
            .args(["send", "--user", "bob", line])
            .assert()
            .success();
    }
    let mut chats = 0;
    while chats < lines.len() {
        let v: Value = serde_json::from_str(&listener.next("a message")).unwrap();
        if v["kind"] == "chat" {
            chats += 1;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &listener.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut listener = listener;
    assert!(listener.child.wait().unwrap().success());
}

#[test]
fn search_finds_what_listen_stored_with_filters_and_json() {
    let server = RedisServer::start();
    listen_and_store(
        &server,
        &[
            "@alice the deploy is done",
            "@alice lunch?",
            "@alice deploy (again) *today*",
        ],
    );
    let out = cli(&server)
        .args(["search", "--user", "alice", "deploy", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let hits: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 2);
    assert_eq!(
        hits[0]["content"], "@alice deploy (again) *today*",
        "newest first"
    );
    for hit in &hits {
        for field in ["id", "sender", "content", "sentAt", "to"] {
            assert!(!hit[field].is_null(), "{field} in {hit}");
        }
        assert_eq!(hit["sender"], "bob");
        assert_eq!(hit["conversation"], "@bob");
    }
    // Search syntax typed by the user is text.
    cli(&server)
        .args([
            "search",
            "--user",
            "alice",
            "--with",
            "bob",
            "(again) *today*",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("deploy (again)"));
    // A query that cannot run says why.
    cli(&server)
        .args(["search", "--user", "alice", "deploy before:someday"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not a date"));
    // Another user's store does not exist.
    cli(&server)
        .args(["search", "--user", "carol", "deploy"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no messages are stored"));
}

#[test]
fn export_round_trips_as_json_and_csv_and_writes_a_private_file() {
    let server = RedisServer::start();
    listen_and_store(&server, &["@alice hello, \"world\"", "@alice =1+2"]);
    let out = cli(&server)
        .args([
            "export", "--user", "alice", "--format", "json", "--with", "@bob",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["content"], "@alice hello, \"world\"");
    assert_eq!(rows[0]["trust"], "signed");
    assert!(rows[0]["receivedAt"].is_string() && rows[0]["sentAt"].is_string());

    let file = data_dir(&server).join("export.csv");
    cli(&server)
        .args(["export", "--user", "alice", "--format", "csv", "--out"])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicates::str::contains("2 messages written"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,conversation,sender"));
    // Quoted per RFC 4180; a cell starting like a formula (= + - @) begins with '.
    assert!(text.contains("\"'@alice hello, \"\"world\"\"\""), "{text}");
    assert!(text.contains("\"'@alice =1+2\""), "{text}");
    cli(&server)
        .args(["export", "--user", "alice", "--format", "md"])
        .assert()
        .success()
        .stdout(predicates::str::contains("## \\@bob"));
    cli(&server)
        .args(["export", "--user", "alice", "--format", "xml"])
        .assert()
        .code(2);
}
