//! The real window behind Sentinel (a module of the one e2e binary): it names the
//! deployment, chats in a room with a CLI member, and follows a failover to the new master.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redchat_core::testing::SentinelGroup;
use redchat_e2e::{AppUnderTest, DataHome, WAIT, cli_at, listen_at};
use serde_json::json;

fn cli(url: &str, args: &[&str]) -> Command {
    cli_at(url, "sentinel", args)
}

/// Waits for carol's `listen --json` to print the room message `text`.
fn carol_sees(lines: &mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("carol's listener never printed {text:?}"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "chat" && v["content"] == text {
            assert_eq!(v["room"], "team");
            return;
        }
    }
}

#[test]
fn the_window_chats_behind_sentinel_and_follows_a_failover() {
    let mut group = SentinelGroup::start();
    let url = group.url();
    let status = cli(&url, &["join", "--user", "carol", "#team"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "carol joins #team");
    let (mut carol, carol_lines) = listen_at(&url, "sentinel", "carol");

    let home = DataHome::new("sentinel");
    let app = AppUnderTest::start(&home.0);
    app.connect_as(&url, "alice");
    let old = group.master_port();
    app.wait_for(
        "the status names the master and the deployment",
        "return document.querySelector('#status').textContent === arguments[0] \
         && document.querySelector('#topology').textContent === 'Sentinel · 2 nodes'",
        json!([format!("Connected as alice · 127.0.0.1:{old}")]),
    );
    app.type_and_enter("#new-conversation", "#team");
    app.wait_for(
        "#team open",
        "return document.querySelector('#conversation-title').textContent.includes('#team')",
        json!([]),
    );
    app.type_and_enter("#compose", "hi carol, before");
    carol_sees(&carol_lines, "hi carol, before");

    group.master().kill();
    let new = group.wait_failover(old, Duration::from_secs(60));
    app.wait_for_within(
        "connected to the promoted replica",
        "return document.querySelector('#status').textContent === arguments[0]",
        json!([format!("Connected as alice · 127.0.0.1:{new}")]),
        Duration::from_secs(60),
    );
    let status = cli(
        &url,
        &["send", "--user", "carol", "#team back after the failover"],
    )
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert!(status.success(), "carol sends on the new master");
    app.wait_for(
        "carol's message after the failover",
        "return [...document.querySelectorAll('#messages .entry')].some(e => e.textContent.includes('back after the failover'))",
        json!([]),
    );
    app.type_and_enter("#compose", "and from the window, after");
    carol_sees(&carol_lines, "and from the window, after");
    let _ = carol.kill();
    let _ = carol.wait();
    app.close();
}
