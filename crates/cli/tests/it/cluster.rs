//! The CLI on a real Redis Cluster: `listen` and `send` in a DM and a room, and `listen`
//! following a failover of the primary serving the listener's inbox.

use std::time::Duration;

use redchat_core::cluster;
use redchat_core::testing::ClusterGroup;

use crate::support::*;

#[test]
fn listen_and_send_on_a_cluster_in_a_dm_and_a_room_through_a_failover() {
    let mut group = ClusterGroup::start();
    let url = group.url();
    let data = std::env::temp_dir().join(format!("redchat-cli-cluster-{}", group.ports()[0]));
    cli_at(&url, &data)
        .args(["join", "--user", "alice", "#ops"])
        .assert()
        .code(0);
    let mut listen = std::process::Command::new(assert_cmd::cargo::cargo_bin("redchat-cli"));
    listen
        .args(["listen", "--user", "alice", "--json"])
        .env("REDCHAT_URL", &url)
        .env("REDCHAT_DATA_DIR", &data)
        .env_remove("REDCHAT_PASSWORD");
    let alice = Lines::spawn(listen);
    let status = next_of(&alice, "alice connected", &["status"]);
    assert_eq!(status["topology"], "cluster", "{status}");
    assert_eq!(status["nodes"], 6, "{status}");

    cli_at(&url, &data)
        .args(["send", "--user", "bob", "@alice on the cluster"])
        .assert()
        .code(0);
    assert_eq!(
        next_of(&alice, "the DM", &["chat"])["content"],
        "@alice on the cluster"
    );
    cli_at(&url, &data)
        .args(["send", "--user", "bob", "#ops sharded"])
        .assert()
        .code(0);
    let room = next_of(&alice, "the room message", &["chat"]);
    assert_eq!(
        (room["content"].as_str(), room["room"].as_str()),
        (Some("sharded"), Some("ops"))
    );

    let owner = group.owner(cluster::slot(b"redchat:{u:alice}:inbox"));
    group.node(owner).kill();
    group.wait_ok(Duration::from_secs(60));
    cli_at(&url, &data)
        .args(["send", "--user", "bob", "@alice after the failover"])
        .assert()
        .code(0);
    assert_eq!(
        next_of(&alice, "the DM after the failover", &["chat"])["content"],
        "@alice after the failover",
        "nothing lost, nothing twice"
    );
    let _ = std::fs::remove_dir_all(&data);
}
