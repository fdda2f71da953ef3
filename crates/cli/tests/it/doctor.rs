//! `redchat-cli doctor` names each broken setup in plain words, with its fix, against real
//! servers (and, for Redis 5, which this machine does not have, a stand-in that answers as
//! Redis 5 does: no HELLO, `redis_version:5.0.14`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use redchat_core::testing::TestPki;
use serde_json::Value;

use crate::support::*;

/// Runs `doctor --json` with `args`, returns (exit code, report).
fn doctor(url: &str, args: &[&str]) -> (i32, Value) {
    let out = assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .env_remove("REDCHAT_PASSWORD")
        .env_remove("REDCHAT_URL")
        .args(["--url", url, "doctor", "--json"])
        .args(args)
        .timeout(WAIT)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let report: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("doctor --json printed {text:?}: {e}"));
    (out.status.code().unwrap_or(-1), report)
}

/// The problem codes of a report.
fn codes(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts exactly one problem with `code`, exit 1, and returns its message.
fn only_problem(url: &str, args: &[&str], code: &str) -> String {
    let (exit, report) = doctor(url, args);
    assert_eq!(codes(&report), vec![code.to_string()], "{report:#}");
    assert_eq!(exit, 1, "a problem exits 1");
    for field in [
        "host",
        "port",
        "tls",
        "serverVersion",
        "resp3",
        "cluster",
        "latencyMs",
        "problems",
    ] {
        assert!(report.get(field).is_some(), "{field} missing: {report:#}");
    }
    report["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_healthy_server_has_no_problems_and_the_report_has_every_field() {
    let server = RedisServer::start();
    let (exit, report) = doctor(&server.url(), &["--user", "alice"]);
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(report["host"], "127.0.0.1");
    assert_eq!(report["port"], server.port());
    assert_eq!(report["tls"], false);
    assert_eq!(report["resp3"], true);
    assert_eq!(report["cluster"], false);
    assert!(
        report["serverVersion"].as_str().unwrap().starts_with('7'),
        "{report:#}"
    );
    assert!(report["latencyMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(report["commandsCheckedWith"], "ACL DRYRUN");
    let commands = report["commands"].as_array().unwrap();
    assert!(
        commands.len() >= 20 && commands.iter().all(|c| c["allowed"] == true),
        "{report:#}"
    );
}

#[test]
fn the_password_never_appears_only_whether_one_is_set() {
    let server = RedisServer::start_with(&["--requirepass", "hunter2-secret"]);
    let url = format!("redis://:hunter2-secret@127.0.0.1:{}", server.port());
    for args in [&["--no-connect"][..], &[][..]] {
        let out = assert_cmd::Command::cargo_bin("redchat-cli")
            .unwrap()
            .args(["--url", &url, "doctor", "--json"])
            .args(args)
            .timeout(WAIT)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("hunter2"), "{all}");
        let report: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        assert_eq!(report["passwordSet"], true);
        assert_eq!(out.status.code(), Some(0), "{report:#}");
    }
    // The human form too.
    let out = assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .args(["--url", &url, "doctor"])
        .timeout(WAIT)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("password set") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn no_connect_stops_after_parsing_and_a_bad_string_is_a_problem() {
    let port = free_port();
    let (exit, report) = doctor(&format!("redis://127.0.0.1:{port}"), &["--no-connect"]);
    assert_eq!(
        (exit, report["connected"].clone()),
        (0, Value::Bool(false)),
        "{report:#}"
    );
    let message = only_problem("redis://h:99999", &[], "invalid_settings");
    assert!(message.contains("port"), "{message}");
}

#[test]
fn wrong_password() {
    let server = RedisServer::start_with(&["--requirepass", "right"]);
    let message = only_problem(
        &format!("redis://:wrong@127.0.0.1:{}", server.port()),
        &[],
        "auth",
    );
    assert!(message.contains("password"), "{message}");
}

#[test]
fn noperm_names_each_command_the_user_lacks() {
    let server = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER", "carol", "on", ">pw", "~*", "&*", "+@all", "-xadd",
            ][..],
        )
        .query(&mut raw(&server))
        .unwrap();
    let url = format!("redis://carol:pw@127.0.0.1:{}", server.port());
    let (exit, report) = doctor(&url, &[]);
    assert_eq!(exit, 1);
    assert!(
        codes(&report).iter().all(|c| c == "forbidden"),
        "{report:#}"
    );
    let text = report["problems"].to_string();
    assert!(
        text.contains("your Redis user may not") && text.contains("XADD"),
        "{text}"
    );
    assert!(text.contains("direct message"), "says what for: {text}");
    assert!(
        !text.to_lowercase().contains("password"),
        "never a password problem: {text}"
    );
}

#[test]
fn plain_to_a_tls_port() {
    let server = RedisServer::start_tls();
    let message = only_problem(
        &format!("redis://localhost:{}", server.port()),
        &[],
        "tls_required",
    );
    assert!(message.contains("rediss://"), "{message}");
}

#[test]
fn tls_to_a_plain_port() {
    let server = RedisServer::start();
    let message = only_problem(
        &format!("rediss://127.0.0.1:{}", server.port()),
        &[],
        "not_tls",
    );
    assert!(message.contains("redis://"), "{message}");
}

#[test]
fn untrusted_ca_then_trusted_with_tls_ca() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let url = format!("rediss://localhost:{}", server.port());
    let message = only_problem(&url, &[], "tls_untrusted");
    assert!(message.contains("--tls-ca"), "{message}");
    let ca = pki.path("ca.crt");
    let (exit, report) = doctor(&url, &["--tls-ca", ca.to_str().unwrap()]);
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(report["tls"], true);
    assert!(
        report["tlsVerification"]
            .as_str()
            .unwrap()
            .contains("ca.crt"),
        "{report:#}"
    );
}

#[test]
fn mutual_tls_with_and_without_a_client_certificate() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "yes", &[]);
    let url = format!("rediss://localhost:{}", server.port());
    let ca = pki.path("ca.crt");
    let message = only_problem(&url, &["--tls-ca", ca.to_str().unwrap()], "tls_client_cert");
    assert!(message.contains("--tls-cert"), "{message}");
    let (exit, report) = doctor(
        &url,
        &[
            "--tls-ca",
            ca.to_str().unwrap(),
            "--tls-cert",
            pki.path("client.crt").to_str().unwrap(),
            "--tls-key",
            pki.path("client.key").to_str().unwrap(),
        ],
    );
    assert_eq!(exit, 0, "{report:#}");
}

#[test]
fn wrong_host_name() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let ca = pki.path("ca.crt");
    let url = format!("rediss://127.0.0.1:{}", server.port());
    let message = only_problem(&url, &["--tls-ca", ca.to_str().unwrap()], "tls_name");
    assert!(message.contains("sslHost"), "{message}");
    let (exit, report) = doctor(
        &format!("{url}?sslHost=localhost"),
        &["--tls-ca", ca.to_str().unwrap()],
    );
    assert_eq!(exit, 0, "{report:#}");
}

#[test]
fn redis_5() {
    let port = fake_redis_5();
    let message = only_problem(&format!("redis://127.0.0.1:{port}"), &[], "old_server");
    assert!(
        message.contains("5.0.14") && message.contains("Redis 6"),
        "{message}"
    );
}

#[test]
fn resp3_off() {
    let server = RedisServer::start_with(&["--rename-command", "HELLO", ""]);
    let (_, report) = doctor(&server.url(), &[]);
    assert_eq!(report["resp3"], false, "{report:#}");
    let message = only_problem(&server.url(), &[], "no_resp3");
    assert!(message.contains("RESP3"), "{message}");
}

#[test]
fn cluster() {
    let dir = std::env::temp_dir().join(format!("redchat-doctor-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join(format!("nodes-{}.conf", free_port()));
    let server = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().unwrap(),
    ]);
    let (_, report) = doctor(&server.url(), &[]);
    assert_eq!(report["cluster"], true, "{report:#}");
    let message = only_problem(&server.url(), &[], "cluster_not_ok");
    assert!(
        message.contains("16384 of 16384 slots have no primary"),
        "a node without slots: {message}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_real_cluster_is_described_with_its_nodes() {
    let cluster = redchat_core::testing::ClusterGroup::start();
    let (_, report) = doctor(&cluster.url(), &[]);
    assert_eq!(report["cluster"], true, "{report:#}");
    assert!(
        report["notes"]
            .to_string()
            .contains("a Redis Cluster of 3 primaries and 3 replicas"),
        "{report:#}"
    );
    assert!(codes(&report).is_empty(), "a healthy cluster: {report:#}");
    // A replica of the cluster given as the node: fine, the primaries are found.
    let replica = cluster
        .nodes()
        .into_iter()
        .find(|n| !n.primary)
        .unwrap()
        .port;
    let (_, report) = doctor(&format!("redis://127.0.0.1:{replica}"), &[]);
    assert!(codes(&report).is_empty(), "{report:#}");
}

#[test]
fn unreachable_host() {
    let message = only_problem("redis://no-such-host.invalid:6379", &[], "unknown_host");
    assert!(message.contains("no-such-host.invalid"), "{message}");
}

#[test]
fn timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let message = only_problem(
        &format!("127.0.0.1:{port},connectTimeout=500,syncTimeout=500"),
        &[],
        "timeout",
    );
    assert!(message.contains("nothing answers"), "{message}");
}

#[test]
fn wrong_port() {
    let message = only_problem(
        &format!("redis://127.0.0.1:{}", free_port()),
        &[],
        "refused",
    );
    assert!(message.contains("port"), "{message}");
}

/// A stand-in answering as Redis 5 does (no HELLO; INFO says 5.0.14), on a free port.
fn fake_redis_5() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some(command) = read_command(&mut reader) {
                    let name = command
                        .first()
                        .map(|c| c.to_ascii_uppercase())
                        .unwrap_or_default();
                    let reply = match name.as_str() {
                        "PING" => "+PONG\r\n".to_string(),
                        "INFO" => {
                            let body =
                                "# Server\r\nredis_version:5.0.14\r\nredis_mode:standalone\r\n";
                            format!("${}\r\n{body}\r\n", body.len())
                        }
                        _ => {
                            format!("-ERR unknown command `{name}`, with args beginning with: \r\n")
                        }
                    };
                    if writer.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn read_command(reader: &mut impl BufRead) -> Option<Vec<String>> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let count: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut parts = Vec::new();
    for _ in 0..count {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut buf = vec![0u8; len + 2];
        reader.read_exact(&mut buf).ok()?;
        parts.push(String::from_utf8_lossy(&buf[..len]).to_string());
    }
    Some(parts)
}

#[test]
fn help_documents_doctor_admin_acl_and_the_tls_flags() {
    let help = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("redchat-cli")
            .unwrap()
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let top = help(&["--help"]);
    for name in [
        "doctor",
        "admin",
        "--tls-ca",
        "--tls-cert",
        "--tls-key",
        "sslHost",
    ] {
        assert!(top.contains(name), "--help mentions {name}");
    }
    let doctor = help(&["doctor", "--help"]);
    for field in [
        "--no-connect",
        "--json",
        "--user",
        "host",
        "port",
        "tls",
        "serverVersion",
        "resp3",
        "cluster",
        "latencyMs",
        "problems",
        "code",
        "message",
        "passwordSet",
        "tls_untrusted",
        "old_server",
    ] {
        assert!(doctor.contains(field), "doctor --help documents {field}");
    }
    let acl = help(&["admin", "acl", "--help"]);
    assert!(
        acl.contains("ACL SETUSER") && acl.contains("redis-cli"),
        "{acl}"
    );
}

#[test]
fn admin_acl_prints_one_line_redis_cli_takes() {
    let server = RedisServer::start();
    let out = assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .args(["--namespace", "team:", "admin", "acl", "Bob"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1);
    assert!(line.starts_with("ACL SETUSER bob "), "normalised: {line}");
    let mut child = std::process::Command::new("redis-cli")
        .args(["-p", &server.port().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let reply = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&reply.stdout).trim(), "OK");
    let rules: String = redis::cmd("ACL")
        .arg("LIST")
        .query::<Vec<String>>(&mut raw(&server))
        .unwrap()
        .into_iter()
        .find(|r| r.starts_with("user bob "))
        .expect("bob exists");
    assert!(rules.contains("~team:redchat:{u:bob}:*"), "{rules}");
    assert!(rules.contains("&team:*"), "{rules}");
    assert!(!rules.contains("nopass"), "passwords left alone: {rules}");
}

#[test]
fn a_ca_in_the_system_trust_store_just_works() {
    // SSL_CERT_FILE stands in for the system store (rustls-native-certs reads it, as
    // OpenSSL does): a CA the company installed needs no setting.
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let out = assert_cmd::Command::cargo_bin("redchat-cli")
        .unwrap()
        .env("SSL_CERT_FILE", pki.path("ca.crt"))
        .env_remove("SSL_CERT_DIR")
        .args([
            "--url",
            &format!("rediss://localhost:{}", server.port()),
            "doctor",
            "--json",
        ])
        .timeout(WAIT)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["connected"], true);
}

#[test]
fn doctor_names_a_replica_given_as_the_server() {
    let master = RedisServer::start();
    let replica =
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &master.port().to_string()]);
    let message = only_problem(&replica.url(), &[], "replica");
    assert!(message.contains("redis+sentinel://"), "{message}");
}

#[test]
fn doctor_names_a_sentinel_given_as_a_plain_server_and_an_unknown_service() {
    let group = redchat_core::testing::SentinelGroup::start();
    let port = group.sentinel_ports()[0];
    let (_, report) = doctor(&format!("redis://127.0.0.1:{port}"), &[]);
    assert!(
        codes(&report).contains(&"sentinel".to_string()),
        "{report:#}"
    );
    let message = only_problem(
        &format!("redis+sentinel://127.0.0.1:{port}/nosuch"),
        &[],
        "sentinel",
    );
    assert!(message.contains("nosuch"), "{message}");
}
