//! The CLI behind Sentinel: `doctor` asks the sentinels for the master, `listen` follows a
//! failover, `send` reaches the new master, and both connection-string forms work.

use std::time::Duration;

use redchat_core::testing::{SENTINEL_SERVICE, SentinelGroup};
use serde_json::Value;

use crate::support::*;

#[test]
fn listen_and_send_follow_a_sentinel_failover() {
    let mut group = SentinelGroup::start();
    let data = std::env::temp_dir().join(format!("redchat-cli-sentinel-{}", group.master_port()));
    // The StackExchange form names every sentinel; the URL form is used for sending.
    let ports = group.sentinel_ports();
    let stackexchange = format!(
        "127.0.0.1:{},127.0.0.1:{},serviceName={SENTINEL_SERVICE}",
        ports[0], ports[1]
    );
    let old = group.master_port();

    let (exit, report) = {
        let out = cli_at(&group.url(), &data)
            .args(["doctor", "--json", "--user", "alice"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (
            out.status.code(),
            serde_json::from_str::<Value>(text.trim()).unwrap(),
        )
    };
    assert_eq!(exit, Some(0), "{report:#}");
    assert_eq!(report["port"], old, "the doctor examined the master");
    assert!(
        report["notes"].to_string().contains("names 127.0.0.1:"),
        "{report:#}"
    );

    let mut listen = std::process::Command::new(assert_cmd::cargo::cargo_bin("redchat-cli"));
    listen
        .args(["listen", "--user", "alice", "--json"])
        .env("REDCHAT_URL", &stackexchange)
        .env("REDCHAT_DATA_DIR", &data)
        .env_remove("REDCHAT_PASSWORD");
    let alice = Lines::spawn(listen);
    let status = next_of(&alice, "alice connected", &["status"]);
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(status["topology"], "sentinel", "{status}");
    assert_eq!(status["addr"], format!("127.0.0.1:{old}"), "{status}");

    cli_at(&group.url(), &data)
        .args(["send", "--user", "bob", "@alice before"])
        .assert()
        .code(0);
    let m = next_of(&alice, "the first message", &["chat"]);
    assert_eq!(m["content"], "@alice before");

    group.master().kill();
    let new = group.wait_failover(old, Duration::from_secs(60));
    // Sent on the new master while alice's listen may still be finding it: durable, so it
    // waits in her inbox stream if she is not back yet.
    cli_at(&group.url(), &data)
        .args(["send", "--user", "bob", "@alice after"])
        .assert()
        .code(0);
    loop {
        let line = next_of(
            &alice,
            "the message after the failover",
            &["chat", "status"],
        );
        if line["kind"] == "chat" {
            assert_eq!(
                line["content"], "@alice after",
                "nothing twice, nothing lost"
            );
            break;
        }
        if line["state"] == "connected" {
            assert_eq!(line["addr"], format!("127.0.0.1:{new}"), "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&data);
}
