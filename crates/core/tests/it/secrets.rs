//! Secrets stay secret: a whole session with a password (connect, send, reconnect, fail,
//! quit) leaves it in no file and no log line; every type holding one prints without it;
//! every file Redchat writes is the user's alone.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redchat_core::{
    ConnectionSettings, Delivery, Event, NoticeCode, Session, SessionConfig, Username, parse_line,
};

use crate::support::*;

const PASSWORD: &str = "Tr0ub4dor-and-3-horses";

/// Every tracing event of this test binary, at every level, as text.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        log
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn kill_clients(admin: &mut redis::Connection) {
    for kind in ["pubsub", "normal"] {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg(kind)
            .arg("SKIPME")
            .arg("yes")
            .query(admin)
            .unwrap_or(redis::Value::Nil);
    }
}

/// Every file under `dir`: its bytes must not hold the password, and on Unix only the user
/// may read it (files 0600, directories 0700).
fn check_tree(dir: &std::path::Path, files: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // SQLite removes the store's -wal and -shm files when its last connection closes,
        // which may happen while this walks the tree.
        let meta = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            meta => meta.unwrap(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            let want = if meta.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode, want, "{} is {mode:o}", path.display());
        }
        if meta.is_dir() {
            check_tree(&path, files);
        } else {
            let bytes = match std::fs::read(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                bytes => bytes.unwrap(),
            };
            *files += 1;
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "the password is in {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_whole_session_leaves_the_password_in_no_file_and_no_log_line() {
    let log = captured();
    let server = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", server.port());
    let data = std::env::temp_dir().join(format!("redchat-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let start = |user: &str| {
        let mut config = SessionConfig::new(settings(&url), Username::parse(user).unwrap());
        config.data_dir = Some(data.join("redchat"));
        config.delivery = Delivery::Durable;
        config.heartbeat = Duration::from_millis(200);
        config.keep_trying = true;
        Session::connect(config)
    };
    let (alice, mut a) = start("alice").await.expect("alice connects");
    let (_bob, mut b) = start("bob").await.expect("bob connects");
    alice
        .send(parse_line("@bob secret plans").unwrap())
        .await
        .unwrap();
    next_chat(&mut b, "the message").await;

    // Reconnect: the link is cut and comes back.
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    kill_clients(&mut admin);
    next_matching(
        &mut a,
        "the link lost",
        |e| matches!(e, Event::Status(s) if s.state == redchat_core::State::Reconnecting),
    )
    .await;
    next_matching(
        &mut a,
        "reconnected",
        |e| matches!(e, Event::Status(s) if s.state == redchat_core::State::Connected),
    )
    .await;
    // Fail: the password is rotated under the session, which is refused.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("rotated-pw")
        .query(&mut admin)
        .unwrap();
    kill_clients(&mut admin);
    next_matching(&mut a, "the refusal", |e| {
        matches!(
            e,
            Event::Notice {
                code: NoticeCode::AuthRefused,
                ..
            }
        )
    })
    .await;
    // Errors and reports say what happened without the password.
    let refused = Session::connect(SessionConfig::new(
        settings(&url),
        Username::parse("carol").unwrap(),
    ))
    .await
    .expect_err("the old password is refused");
    let report = redchat_core::doctor::examine(
        &settings(&url),
        &[],
        Some(&Username::parse("alice").unwrap()),
        &redchat_core::Namespace::default(),
    )
    .await;
    let shown = format!(
        "{refused} {refused:?} {} {} {:?} {:?}",
        report.to_text(),
        serde_json::to_string(&report).unwrap(),
        settings(&url),
        ConnectionSettings::parse(&url).unwrap()
    );
    assert!(!shown.contains(PASSWORD), "{shown}");
    // Quit.
    alice.shutdown(Duration::from_secs(2)).await;
    drop((alice, a, b));

    let mut files = 0;
    check_tree(&data, &mut files);
    assert!(
        files >= 4,
        "outbox, cursors, people, identity, lock: {files} files"
    );
    let text = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    assert!(!text.is_empty(), "the log was captured");
    assert!(!text.contains(PASSWORD), "the password is in a log line");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn every_type_holding_a_secret_prints_without_it() {
    let url = format!("rediss://alice:{PASSWORD}@h:6380?sslHost=x.example");
    let parsed = ConnectionSettings::parse(&url).unwrap();
    let mut tls = parsed.settings.clone();
    tls.tls_options.key_file = Some("/k.pem".into());
    let config = SessionConfig::new(parsed.settings.clone(), Username::parse("alice").unwrap());
    let identity = redchat_core::Identity::generate();
    let exported = identity.export();
    let secret = redchat_core::Secret::new(PASSWORD);
    let client_tls = redis::ClientTlsConfig {
        client_cert: PASSWORD.as_bytes().to_vec(),
        client_key: PASSWORD.as_bytes().to_vec(),
    };
    let printed = [
        format!("{secret:?}"),
        format!("{parsed:?}"),
        format!("{:?}", parsed.settings),
        format!("{tls:?}"),
        format!("{config:?}"),
        format!("{identity:?}"),
        format!("{client_tls:?}"),
        parsed.settings.to_url(false),
        ConnectionSettings::strip_password(&url).unwrap(),
    ];
    for text in &printed {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(exported.as_str()), "{text}");
        let private_half = exported.rsplit(':').next().unwrap();
        assert!(!text.contains(private_half), "{text}");
    }
}
