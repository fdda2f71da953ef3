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

mod sentinel;
pub use sentinel::{SERVICE as SENTINEL_SERVICE, SentinelGroup};

mod cluster;
pub use cluster::{ClusterGroup, Node as ClusterNode};

/// A running redis-server. Killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    /// The certificates of [`RedisServer::start_tls`], removed with the server.
    pki: Option<TestPki>,
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
                pki: None,
            };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// A TLS-only server (no plain port) whose certificate is signed by a fresh test CA
    /// (see [`TestPki`]), not asking for client certificates.
    ///
    /// # Panics
    /// When `openssl` or the server cannot be started.
    pub fn start_tls() -> RedisServer {
        let pki = TestPki::new();
        let mut server = RedisServer::start_tls_with(&pki, "no", &[]);
        server.pki = Some(pki);
        server
    }

    /// A TLS-only server (no plain port) with `pki`'s server certificate;
    /// `auth_clients` is `--tls-auth-clients` (`yes`, `no`, `optional`); `extra` more
    /// arguments. Ready once it accepts connections.
    ///
    /// # Panics
    /// When the server cannot be started.
    pub fn start_tls_with(pki: &TestPki, auth_clients: &str, extra: &[&str]) -> RedisServer {
        let binary =
            std::env::var("REDCHAT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("redchat-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
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
            .args(["--tls-auth-clients", auth_clients])
            .arg("--tls-cert-file")
            .arg(pki.path("server.crt"))
            .arg("--tls-key-file")
            .arg(pki.path("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(pki.path("ca.crt"))
            .args(extra)
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
            pki: None,
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

/// A test certificate authority made with the `openssl` command, in its own directory
/// (removed on drop): `ca.crt`; `server.crt`/`server.key` for the names `localhost` and
/// `redis.internal` only (not `127.0.0.1`, so connecting by IP is a wrong host name);
/// `client.crt`/`client.key` signed by the CA; and `other-ca.crt`, a CA that signed nothing.
#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    /// Makes the CA and certificates.
    ///
    /// # Panics
    /// When `openssl` is missing or fails.
    pub fn new() -> TestPki {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redchat-pki-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        let pki = TestPki { dir };
        for (name, cn) in [("ca", "Redchat Test CA"), ("other-ca", "Some Other CA")] {
            pki.openssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ]);
        }
        std::fs::write(
            pki.path("server.ext"),
            "subjectAltName=DNS:localhost,DNS:redis.internal\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .expect("ext");
        std::fs::write(pki.path("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
        for (name, cn) in [("server", "localhost"), ("client", "alice")] {
            pki.openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ]);
            pki.openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.crt"),
            ]);
        }
        pki
    }

    /// A file of this PKI (`ca.crt`, `client.key`, ...).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("openssl must be installed for TLS tests");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Feeds `script` (one command per line) to the real `redis-cli` on `port`, over mutual TLS
/// with `pki`'s client certificate when given, as `user`/`password` when given; returns what
/// it printed (stdout and stderr).
///
/// # Panics
/// When `redis-cli` cannot be started.
pub fn redis_cli(
    port: u16,
    tls: Option<&TestPki>,
    auth: Option<(&str, &str)>,
    script: &str,
) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args([
        "-h",
        if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        },
        "-p",
        &port.to_string(),
    ]);
    if let Some(pki) = tls {
        cmd.arg("--tls")
            .arg("--cacert")
            .arg(pki.path("ca.crt"))
            .arg("--cert")
            .arg(pki.path("client.crt"))
            .arg("--key")
            .arg(pki.path("client.key"));
    }
    if let Some((user, password)) = auth {
        cmd.args(["--user", user, "--pass", password, "--no-auth-warning"]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("redis-cli stdin");
    let out = child.wait_with_output().expect("redis-cli");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `redis-server` arguments for an `admin` user (password `adminpw`) with every right and
/// the `default` user off: a company server.
pub const ADMIN_ONLY: &[&str] = &[
    "--user", "admin", "on", ">adminpw", "~*", "&*", "+@all", "--user", "default", "off",
];

/// Confines each of `users` with the recipe (`redchat_core::acl`) and gives them the
/// password `<user>-pw`, through [`redis_cli`] as the admin of [`ADMIN_ONLY`].
///
/// # Panics
/// When redis-cli does not take it.
pub fn confine(port: u16, tls: Option<&TestPki>, users: &[&str]) {
    let keys = crate::Keys::default();
    let mut script = String::new();
    for user in users {
        let name = crate::Username::parse(user).expect("valid user");
        script.push_str(&crate::acl::setuser_command(&keys, &name).expect("a safe name"));
        script.push('\n');
        script.push_str(&format!("ACL SETUSER {user} on >{user}-pw\n"));
    }
    let out = redis_cli(port, tls, Some(("admin", "adminpw")), &script);
    assert_eq!(
        out.matches("OK").count(),
        2 * users.len(),
        "redis-cli took the recipe: {out}"
    );
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
