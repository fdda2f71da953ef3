//! A company's Redis: private CA, client certificates required, `default` off, each user
//! confined by `redchat-cli admin acl`. The CLI connects, sends and listens.

use std::process::Command;

use redchat_core::testing::TestPki;
use serde_json::Value;

use crate::support::*;

fn company_cli(pki: &TestPki, port: u16, user: &str) -> Vec<String> {
    vec![
        "--url".into(),
        format!("rediss://{user}:{user}-pw@localhost:{port}"),
        "--tls-ca".into(),
        pki.path("ca.crt").display().to_string(),
        "--tls-cert".into(),
        pki.path("client.crt").display().to_string(),
        "--tls-key".into(),
        pki.path("client.key").display().to_string(),
    ]
}

#[test]
fn a_private_ca_mtls_acl_confined_redis_works_from_the_cli() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "yes", redchat_core::testing::ADMIN_ONLY);
    let port = server.port();
    // The recipe as the CLI prints it, fed to redis-cli.
    let mut script = String::new();
    for user in ["alice", "bob"] {
        let recipe = assert_cmd::Command::cargo_bin("redchat-cli")
            .unwrap()
            .args(["admin", "acl", user])
            .output()
            .unwrap();
        assert!(recipe.status.success());
        let line = String::from_utf8(recipe.stdout).unwrap();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        script.push_str(&line);
        script.push_str(&format!("ACL SETUSER {user} on >{user}-pw\n"));
    }
    let out =
        redchat_core::testing::redis_cli(port, Some(&pki), Some(("admin", "adminpw")), &script);
    assert_eq!(out.matches("OK").count(), 4, "{out}");

    let data = std::env::temp_dir().join(format!("redchat-company-{}-{port}", std::process::id()));
    let listener = Lines::spawn({
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("redchat-cli"));
        cmd.args(company_cli(&pki, port, "bob"))
            .args(["listen", "--user", "bob", "--json"])
            .env("REDCHAT_DATA_DIR", &data)
            .env_remove("REDCHAT_URL")
            .env_remove("REDCHAT_PASSWORD");
        cmd
    });
    assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .args(company_cli(&pki, port, "alice"))
        .args(["send", "--user", "alice", "@bob quarterly numbers are in"])
        .env("REDCHAT_DATA_DIR", &data)
        .env_remove("REDCHAT_URL")
        .env_remove("REDCHAT_PASSWORD")
        .timeout(WAIT)
        .assert()
        .code(0);
    let line: Value = loop {
        let line: Value = serde_json::from_str(&listener.next("alice's message")).unwrap();
        if line["kind"] == "chat" {
            break line;
        }
    };
    assert_eq!(line["content"], "@bob quarterly numbers are in");
    assert_eq!(line["trust"], "signed");

    // The doctor agrees: TLS checked with the CA, every command allowed.
    let out = assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .args(company_cli(&pki, port, "alice"))
        .args(["doctor", "--json"])
        .timeout(WAIT)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(
        report["commandsCheckedWith"],
        "MULTI (queued, then discarded)"
    );
    assert_eq!(report["redchatUser"], "alice");
    let _ = std::fs::remove_dir_all(data);
}
