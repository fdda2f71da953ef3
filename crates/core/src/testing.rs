//! Test support (feature `testing`): a real `redis-server` on a free port, killed on drop.
//!
//! Shared by this crate's integration tests, the shell's tests and the end-to-end suite.
//! The binary is `redis-server` from `PATH`, or `$REDCHAT_REDIS_SERVER` when set.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A running redis-server. Killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
}

/// A port nobody listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

impl RedisServer {
    /// Starts a server with no persistence on a free port and waits until it answers PING.
    ///
    /// # Panics
    /// When the binary cannot be started or does not answer within 10 s: tests cannot go on.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Like [`RedisServer::start`], with extra arguments (e.g. `["--requirepass", "pw"]`).
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_with(args: &[&str]) -> RedisServer {
        let mut last_error = String::new();
        // A freed port can be taken by someone else before we bind it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("redchat-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let child = spawn_plain(port, &dir, &args);
            let mut server = RedisServer {
                child,
                port,
                dir,
                args,
            };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// A TLS-only server (no plain port) with a fresh self-signed certificate for
    /// `localhost`, made with the `openssl` command. Ready once it accepts connections.
    ///
    /// # Panics
    /// When `openssl` or the server cannot be started.
    pub fn start_tls() -> RedisServer {
        let binary =
            std::env::var("REDCHAT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("redchat-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed for TLS tests");
        assert!(status.success(), "openssl could not make a certificate");
        let child = Command::new(&binary)
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&cert)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let mut server = RedisServer {
            child,
            port,
            dir,
            args: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("TLS redis-server exited with {status} (is it built with TLS?)");
            }
            assert!(
                Instant::now() < deadline,
                "TLS redis-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// A server with the append-only file on and synced after every write, so that streams
    /// survive [`RedisServer::kill`] + [`RedisServer::restart`].
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_persistent() -> RedisServer {
        RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// Kills the server with SIGKILL (no shutdown, no final save) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and directory, with the same arguments
    /// (an append-only file, if on, is loaded), and waits until it answers.
    ///
    /// # Panics
    /// When it does not come back within 10 s.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_plain(self.port, &self.dir, &self.args);
        if let Err(e) = self.wait_ready(Duration::from_secs(10)) {
            panic!("redis-server did not restart on port {}: {e}", self.port);
        }
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("redis-server exited with {status}"));
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 64];
                // Any answer (PONG, or NOAUTH with requirepass) means it is serving.
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read(&mut buf).is_ok_and(|n| n > 0)
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("no answer to PING within the limit".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain synchronous connection, standing in for another client.
    ///
    /// # Panics
    /// When the server cannot be reached (the test cannot go on).
    pub fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("raw connection to the test server")
    }

    /// PUBLISHes `payload` to `channel` from another client; returns the receiver count.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub fn publish(&self, channel: &str, payload: impl AsRef<[u8]>) -> u64 {
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload.as_ref())
            .query(&mut self.raw())
            .expect("PUBLISH")
    }

    /// `PUBSUB NUMSUB channel`: how many clients listen on it.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub fn numsub(&self, channel: &str) -> u64 {
        let (_, n): (String, u64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut self.raw())
            .expect("PUBSUB NUMSUB");
        n
    }
}

fn spawn_plain(port: u16, dir: &std::path::Path, args: &[String]) -> Child {
    let binary = std::env::var("REDCHAT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    Command::new(&binary)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary} (install redis-server or set REDCHAT_REDIS_SERVER): {e}")
        })
}

/// A TCP proxy in front of a server, for network faults: it can stop forwarding in both
/// directions without closing anything (a black-holed link), and resume.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    blackhole: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free local port and forwards every connection to `127.0.0.1:target`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let blackhole = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (hole, halt) = (blackhole.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                            continue;
                        };
                        for (from, to) in [
                            (client.try_clone(), server.try_clone()),
                            (server.try_clone(), client.try_clone()),
                        ] {
                            if let (Ok(from), Ok(to)) = (from, to) {
                                let (hole, halt) = (hole.clone(), halt.clone());
                                std::thread::spawn(move || pump(from, to, &hole, &halt));
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            blackhole,
            stop,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops (`true`) or resumes (`false`) forwarding; connections stay open either way.
    pub fn blackhole(&self, on: bool) {
        self.blackhole.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, hole: &AtomicBool, halt: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = vec![0u8; 64 * 1024];
    while !halt.load(Ordering::SeqCst) {
        if hole.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
