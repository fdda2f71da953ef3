//! The real window on a Redis Cluster (a module of the one e2e binary): it names the
//! deployment and its nodes, and chats in a DM and a room with a CLI user.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use redchat_core::testing::ClusterGroup;
use redchat_e2e::{AppUnderTest, DataHome, WAIT, cli_at, listen_at};
use serde_json::json;

fn cli(url: &str, args: &[&str]) -> Command {
    cli_at(url, "cluster", args)
}

fn run(url: &str, args: &[&str]) {
    let status = cli(url, args).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "redchat-cli {args:?}");
}

/// Waits for dave's `listen --json` to print `text` (in `room`, or a DM when `None`).
fn dave_sees(lines: &mpsc::Receiver<String>, text: &str, room: Option<&str>) {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("dave's listener never printed {text:?}"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "chat" && v["content"] == text {
            assert_eq!(v["room"].as_str(), room, "{v}");
            return;
        }
    }
}

fn wait_entry(app: &AppUnderTest, what: &str, text: &str) {
    app.wait_for(
        what,
        "return [...document.querySelectorAll('#messages .entry')].some(e => e.textContent.includes(arguments[0]))",
        json!([text]),
    );
}

#[test]
fn the_window_chats_on_a_cluster_in_a_dm_and_a_room() {
    let group = ClusterGroup::start();
    let url = group.url();
    run(&url, &["join", "--user", "dave", "#infra"]);
    let (mut dave, dave_lines) = listen_at(&url, "cluster", "dave");

    let home = DataHome::new("cluster");
    let app = AppUnderTest::start(&home.0);
    app.connect_as(&url, "erin");
    app.wait_for(
        "the status names the cluster and its nodes",
        "return document.querySelector('#topology').textContent === 'Cluster · 6 nodes' \
         && document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    // A room: joined from the window, written to from both sides.
    app.type_and_enter("#new-conversation", "#infra");
    app.wait_for(
        "#infra open",
        "return document.querySelector('#conversation-title').textContent.includes('#infra')",
        json!([]),
    );
    app.type_and_enter("#compose", "erin in the room, over sharded pub/sub");
    dave_sees(
        &dave_lines,
        "erin in the room, over sharded pub/sub",
        Some("infra"),
    );
    run(
        &url,
        &["send", "--user", "dave", "#infra dave answers in the room"],
    );
    wait_entry(&app, "dave's room message", "dave answers in the room");
    // A DM both ways.
    app.type_and_enter("#new-conversation", "@dave");
    app.type_and_enter("#compose", "@dave a direct message on the cluster");
    dave_sees(&dave_lines, "@dave a direct message on the cluster", None);
    // Delivered live (the count is right on a cluster: erin's inbox is subscribed where
    // the PUBLISH runs), and shown.
    let out = cli(&url, &["send", "--user", "dave", "@erin got it"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "one receiver: erin's window"
    );
    app.click(
        "#requests li[data-conversation='@dave'], #conversations li[data-conversation='@dave']",
    );
    wait_entry(&app, "dave's answer in the DM", "got it");
    let _ = dave.kill();
    let _ = dave.wait();
    app.close();
}
