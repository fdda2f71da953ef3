//! Signed identities from a script's point of view: `listen --json`'s `trust`, `contact`
//! and `identity`.

use predicates::str::contains;

use crate::scripts::next_json;
use crate::support::*;

#[test]
fn listen_json_says_who_signed_what_and_prints_strangers_too() {
    let server = RedisServer::start();
    let listener = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "alice", "--json"],
    ));
    wait_numsub(&server, "alice", 1);
    cli(&server)
        .args(["send", "--user", "bob", "@alice signed hello"])
        .assert()
        .code(0);
    let line = next_json(&listener, "bob's signed message");
    assert_eq!(line["content"], "@alice signed hello");
    assert_eq!(line["trust"], "signed");
    assert_eq!(
        line["request"], true,
        "bob is a stranger to alice: a request"
    );
    // The original client and redis-cli sign nothing: unsigned, not forged.
    publish(
        &server,
        "alice",
        r#"{"Id":0,"Sender":"carol","Content":"@alice from WPF","ReceivedAt":"0001-01-01T00:00:00"}"#,
    );
    let line = next_json(&listener, "the original client's message");
    assert_eq!(line["trust"], "unsigned");
    // A forged signature is printed, marked.
    publish(
        &server,
        "alice",
        r#"{"Sender":"bob","To":"alice","Content":"@alice forged","MessageId":"x","SentAt":"2026-01-01T00:00:00Z","Key":"AAAA","Sig":"AAAA"}"#,
    );
    let line = next_json(&listener, "the forged message");
    assert_eq!(line["content"], "@alice forged");
    assert_eq!(line["trust"], "invalid");
    // A name with an invisible character is flagged with the reason.
    publish(
        &server,
        "alice",
        "{\"Sender\":\"bob\u{200B}\",\"Content\":\"@alice it's bob\"}",
    );
    let line = next_json(&listener, "the impostor");
    assert!(
        line["senderIssue"]
            .as_str()
            .unwrap()
            .contains("invisible characters")
    );
}

#[test]
fn contact_shows_the_same_safety_number_on_both_sides() {
    let server = RedisServer::start();
    // Each publishes its key on connect (send connects too).
    cli(&server)
        .args(["send", "--user", "alice", "@bob hi"])
        .assert()
        .code(0);
    cli(&server)
        .args(["send", "--user", "bob", "@alice hi"])
        .assert()
        .code(0);
    let number = |me: &str, them: &str| {
        let out = cli(&server)
            .args(["contact", "--user", me, them, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["safetyNumber"].as_str().unwrap().to_string()
    };
    let (a, b) = (number("alice", "bob"), number("bob", "alice"));
    assert_eq!(a, b);
    assert_eq!(a.split(' ').count(), 12);
    cli(&server)
        .args(["contact", "--user", "alice", "bob", "--mark-verified"])
        .assert()
        .code(0)
        .stdout(contains("verified: you compared this number"));
}

#[test]
fn identity_export_and_import_move_the_key_to_another_device() {
    let server = RedisServer::start();
    let out = cli(&server)
        .args(["identity", "--user", "alice"])
        .output()
        .unwrap();
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("readable by you alone"), "{shown}");
    let public = shown
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap()
        .to_string();
    let exported = cli(&server)
        .args(["identity", "--user", "alice", "--export"])
        .output()
        .unwrap()
        .stdout;
    // Another device: another data directory.
    let other = std::env::temp_dir().join(format!("redchat-cli-other-{}", server.port()));
    cli(&server)
        .env("REDCHAT_DATA_DIR", &other)
        .args(["identity", "--user", "alice", "--import", "-"])
        .write_stdin(exported)
        .assert()
        .code(0)
        .stdout(contains(&public));
    cli(&server)
        .env("REDCHAT_DATA_DIR", &other)
        .args(["identity", "--user", "alice", "--import", "-"])
        .write_stdin("not a key")
        .assert()
        .code(1)
        .stderr(contains("not a Redchat identity"));
    let _ = std::fs::remove_dir_all(other);
}

#[test]
fn contact_never_consumes_messages_a_later_listen_must_catch_up_on() {
    let server = RedisServer::start();
    cli(&server)
        .args(["send", "--user", "bob", "@alice while you were away"])
        .assert()
        .code(0);
    cli(&server)
        .args(["contact", "--user", "alice", "bob"])
        .assert()
        .code(0);
    let listener = Lines::spawn(cli_process(
        &server,
        &["listen", "--user", "alice", "--json"],
    ));
    loop {
        let line = next_json(&listener, "the stored message");
        if line["kind"] == "chat" {
            assert_eq!(line["content"], "@alice while you were away");
            break;
        }
    }
}
