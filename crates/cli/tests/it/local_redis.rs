//! `make run`'s local server (`scripts/local-redis.sh`) keeps its data: a message stored for
//! an offline user is still there after the server restarts.

use std::process::Command;

use crate::support::*;

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/local-redis.sh")
}

fn start(port: u16, dir: &std::path::Path) {
    let out = Command::new("bash")
        .arg(script())
        .env("REDCHAT_LOCAL_REDIS_PORT", port.to_string())
        .env("REDCHAT_LOCAL_REDIS_DIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_local_server_keeps_durable_messages_across_a_restart() {
    let port = free_port();
    let dir =
        std::env::temp_dir().join(format!("redchat-local-redis-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    start(port, &dir);
    let url = format!("redis://127.0.0.1:{port}");
    assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .args([
            "--url",
            &url,
            "send",
            "--user",
            "alice",
            "@bob kept across restarts",
        ])
        .env("REDCHAT_DATA_DIR", dir.join("cli"))
        .timeout(WAIT)
        .assert()
        .code(0);
    // A clean shutdown (as at logout) without an RDB save: only the AOF keeps it.
    redis_cli(port, &["SHUTDOWN", "NOSAVE"]);
    start(port, &dir);
    let entries = redis_cli(port, &["XRANGE", "redchat:{u:bob}:inbox", "-", "+"]);
    assert!(entries.contains("kept across restarts"), "{entries}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the data is the user's alone");
    }
    redis_cli(port, &["SHUTDOWN", "NOSAVE"]);
    let _ = std::fs::remove_dir_all(&dir);
}
