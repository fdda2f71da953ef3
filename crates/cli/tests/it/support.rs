use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use redchat_core::testing::{RedisServer, free_port};

pub const WAIT: Duration = Duration::from_secs(15);

/// Outbox and inbox cursors of the CLI processes of one test (one server per test).
pub fn data_dir(server: &RedisServer) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "redchat-cli-data-{}-{}",
        std::process::id(),
        server.port()
    ))
}

pub fn cli(server: &RedisServer) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("redchat-cli").unwrap();
    cmd.env("REDCHAT_URL", server.url())
        .env("REDCHAT_DATA_DIR", data_dir(server))
        .env_remove("REDCHAT_PASSWORD")
        .timeout(WAIT);
    cmd
}

pub fn cli_process(server: &RedisServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("redchat-cli"));
    cmd.args(args)
        .env("REDCHAT_URL", server.url())
        .env("REDCHAT_DATA_DIR", data_dir(server))
        .env_remove("REDCHAT_PASSWORD");
    cmd
}

pub fn raw(server: &RedisServer) -> redis::Connection {
    server.raw()
}

pub fn publish(server: &RedisServer, channel: &str, payload: &str) -> u64 {
    server.publish(channel, payload)
}

pub fn numsub(server: &RedisServer, channel: &str) -> u64 {
    server.numsub(channel)
}

/// Waits until `channel` has `n` subscribers (the process under test is ready).
pub fn wait_numsub(server: &RedisServer, channel: &str, n: u64) {
    let deadline = Instant::now() + WAIT;
    while numsub(server, channel) != n {
        assert!(
            Instant::now() < deadline,
            "{channel} never reached {n} subscribers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process whose stdout lines arrive on a channel.
pub struct Lines {
    pub child: Child,
    rx: mpsc::Receiver<String>,
}

impl Lines {
    pub fn spawn(mut cmd: Command) -> Lines {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { child, rx }
    }

    pub fn next(&self, what: &str) -> String {
        self.rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no output line: {what}"))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `redchat-cli` against `url` with its own data directory.
pub fn cli_at(url: &str, data: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("redchat-cli").unwrap();
    cmd.env("REDCHAT_URL", url)
        .env("REDCHAT_DATA_DIR", data)
        .env_remove("REDCHAT_PASSWORD")
        .timeout(WAIT * 2);
    cmd
}

/// The next `listen --json` line of one of `kinds`.
pub fn next_of(lines: &Lines, what: &str, kinds: &[&str]) -> serde_json::Value {
    loop {
        let line: serde_json::Value =
            serde_json::from_str(&lines.next(what)).expect("every line is JSON");
        if kinds.contains(&line["kind"].as_str().unwrap_or("")) {
            return line;
        }
    }
}
