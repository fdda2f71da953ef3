//! A company's Redis in the real window (a module of the one e2e binary): private CA,
//! client certificates required, `default` off, users confined by the ACL recipe. The
//! window connects with the TLS files from Settings, chats, and the doctor says all is well.

use std::process::{Command, Stdio};

use redchat_core::testing::{RedisServer, TestPki};
use redchat_e2e::{AppUnderTest, DataHome, cli_binary};
use serde_json::json;

#[test]
fn the_window_connects_to_a_private_ca_mtls_acl_confined_redis_and_chats() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "yes", redchat_core::testing::ADMIN_ONLY);
    redchat_core::testing::confine(server.port(), Some(&pki), &["alice", "bob"]);
    let home = DataHome::new("company");
    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "the settings form",
        "const o = document.querySelector('.overlay'); return !!o && !o.hidden",
        json!([]),
    );
    let url = format!("rediss://alice:alice-pw@localhost:{}", server.port());
    app.type_into("#connection", &url);
    app.type_into("#username", "alice");
    app.click("#tls-options summary");
    app.type_into("#tls-ca", pki.path("ca.crt").to_str().unwrap());
    app.type_into("#tls-cert", pki.path("client.crt").to_str().unwrap());
    app.type_into("#tls-key", pki.path("client.key").to_str().unwrap());
    // The doctor first: every command allowed, no problem.
    app.click("#run-doctor");
    app.wait_for(
        "the doctor's report",
        "return !!document.querySelector('#doctor-problems .no-problems')",
        json!([]),
    );
    let report = app.text("#doctor-text");
    assert!(report.contains("certificate checked against"), "{report}");
    assert!(report.contains("ca.crt"), "{report}");
    app.click("#connect");
    app.wait_for(
        "connected status",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    // bob writes from the CLI over the same mTLS, as his own confined user.
    let status = Command::new(cli_binary())
        .args([
            "--url",
            &format!("rediss://bob:bob-pw@localhost:{}", server.port()),
        ])
        .arg("--tls-ca")
        .arg(pki.path("ca.crt"))
        .arg("--tls-cert")
        .arg(pki.path("client.crt"))
        .arg("--tls-key")
        .arg(pki.path("client.key"))
        .args(["send", "--user", "bob", "@alice the audit passed"])
        .env(
            "REDCHAT_DATA_DIR",
            std::env::temp_dir().join(format!("redchat-e2e-company-{}", server.port())),
        )
        .env_remove("REDCHAT_URL")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    app.wait_for(
        "bob's request",
        "return !!document.querySelector(\"#requests li[data-conversation='@bob']\")",
        json!([]),
    );
    app.click("#requests li[data-conversation='@bob']");
    app.wait_for(
        "bob's signed message",
        "return [...document.querySelectorAll('#messages .message')].some(m => m.textContent.includes('the audit passed') && m.dataset.trust === 'signed')",
        json!([]),
    );
    // The log says what happened to the connection, never what was said or the password.
    let log = home.0.join("dev.redchat.desktop/logs/redchat.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(text.contains("connected to localhost"), "{text}");
    assert!(
        !text.contains("the audit passed"),
        "message text in the log: {text}"
    );
    // The settings remember the files (not the password, in no file: the log neither).
    assert!(
        home.files_containing("alice-pw").is_empty(),
        "the password is in no file"
    );
    assert!(
        !home.files_containing("client.key").is_empty(),
        "the key's path is remembered"
    );
    app.close();
}
