//! A small WebDriver client and the harness that starts the real app under tauri-driver.
//!
//! Needs: the app built with embedded assets (`make app-debug`), `tauri-driver` and
//! `WebKitWebDriver` on `PATH`, and an X display (`make e2e` runs under `xvfb-run`).
//! Each [`AppUnderTest`] gets its own `XDG_DATA_HOME` (and `XDG_CONFIG_HOME` under it), so settings
//! and the remembered window place never leak between tests; D-Bus is off unless a test gives one
//! ([`desktop::DbusSession`]).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod desktop;

/// Upper bound for waiting on anything in the window.
pub const WAIT: Duration = Duration::from_secs(20);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The app binary: `$REDCHAT_APP`, else `target/debug/redchat` of this workspace.
pub fn app_binary() -> PathBuf {
    if let Ok(path) = std::env::var("REDCHAT_APP") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/redchat")
}

/// The CLI binary: `$REDCHAT_CLI`, else `target/debug/redchat-cli` of this workspace.
pub fn cli_binary() -> PathBuf {
    if let Ok(path) = std::env::var("REDCHAT_CLI") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/redchat-cli")
}

/// `redchat-cli` with `args` against `url`, its data in a temporary folder named for `name`.
pub fn cli_at(url: &str, name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(cli_binary());
    cmd.args(args)
        .env("REDCHAT_URL", url)
        .env(
            "REDCHAT_DATA_DIR",
            std::env::temp_dir().join(format!("redchat-e2e-{name}-{}", std::process::id())),
        )
        .env_remove("REDCHAT_PASSWORD");
    cmd
}

/// Starts `redchat-cli listen --json` as `user`; its stdout lines arrive on the receiver.
pub fn listen_at(url: &str, name: &str, user: &str) -> (Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = cli_at(url, name, &["listen", "--user", user, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redchat-cli listen starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// tauri-driver plus one app instance, killed on drop.
pub struct AppUnderTest {
    driver: Child,
    base: String,
    session: Option<String>,
}

impl AppUnderTest {
    /// Starts tauri-driver with `data_home` as `XDG_DATA_HOME` and opens the app.
    ///
    /// # Panics
    /// When a prerequisite is missing, with the command that installs it.
    pub fn start(data_home: &Path) -> AppUnderTest {
        AppUnderTest::start_with_env(data_home, &[])
    }

    /// Like [`AppUnderTest::start`], with extra environment variables for the app.
    ///
    /// # Panics
    /// As [`AppUnderTest::start`].
    pub fn start_with_env(data_home: &Path, env: &[(&str, &str)]) -> AppUnderTest {
        let app = app_binary();
        assert!(
            app.exists(),
            "{} is missing: build it with `make app-debug` (embedded assets)",
            app.display()
        );
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no X display: run under xvfb-run (make e2e)"
        );
        let port = redchat_core::testing::free_port();
        let native_port = redchat_core::testing::free_port();
        let driver = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("XDG_DATA_HOME", data_home)
            // The window's remembered size and place live under the config directory.
            .env("XDG_CONFIG_HOME", data_home.join("config"))
            // No Secret Service: the app must fall back to asking for the password.
            .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver not found: cargo install tauri-driver --locked");
        let mut this = AppUnderTest {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
        };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps =
            json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}});
        let created = this.request("POST", "/session", Some(caps));
        let id = created["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        this.session = Some(id);
        this
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        // tauri-driver now and then drops a connection without answering (most often while
        // it starts the app for a new session): retry those, waiting a little longer each time.
        for attempt in 1..=6u64 {
            let req = ureq::request(method, &url)
                .set("Connection", "close")
                .timeout(Duration::from_secs(60));
            let result = match &body {
                Some(b) => req.send_json(b.clone()),
                None if method == "POST" => req.send_json(json!({})),
                None => req.call(),
            };
            match result {
                Ok(resp) => {
                    return resp
                        .into_json::<Value>()
                        .map(|v| v["value"].clone())
                        .unwrap_or(Value::Null);
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let text = resp.into_string().unwrap_or_default();
                    panic!("WebDriver {method} {path} failed with {code}: {text}");
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(150 * attempt));
        }
        panic!("WebDriver {method} {path}: {last}");
    }

    fn session_path(&self, rest: &str) -> String {
        format!(
            "/session/{}{rest}",
            self.session.as_deref().expect("open session")
        )
    }

    /// Runs `script` in the page and returns its result.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.request(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Waits until `script` returns something truthy (not null/false/""), returning it.
    ///
    /// # Panics
    /// After [`WAIT`], with `what` and the page's last answer.
    pub fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        self.wait_for_within(what, script, args, WAIT)
    }

    /// Like [`AppUnderTest::wait_for`], with its own bound (e.g. presence expiry).
    ///
    /// # Panics
    /// After `limit`.
    pub fn wait_for_within(&self, what: &str, script: &str, args: Value, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.execute(script, args.clone());
            let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                && v != Value::String(String::new());
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let status = self.text("#status");
                let title = self.text("#conversation-title");
                let messages = self.text("#messages");
                panic!(
                    "timed out waiting for {what}; status: {status:?}; open: {title:?}; messages: {messages:?}; last: {v}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.execute(
                "return document.querySelector(arguments[0]) !== null",
                json!([css]),
            );
            if found == Value::Bool(true) {
                break;
            }
            assert!(Instant::now() < deadline, "no element {css}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let v = self.request(
            "POST",
            &self.session_path("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT_KEY].as_str().expect("element id").to_string()
    }

    /// Text content of the first element matching `css` ("" when absent).
    pub fn text(&self, css: &str) -> String {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Value of the input matching `css`.
    pub fn value(&self, css: &str) -> String {
        self.execute(
            "return document.querySelector(arguments[0]).value",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Clears the field and types `text` into it, as a user would.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.request(
            "POST",
            &self.session_path(&format!("/element/{id}/clear")),
            None,
        );
        self.request(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({"text": text})),
        );
    }

    /// Types `text` and presses Enter.
    pub fn type_and_enter(&self, css: &str, text: &str) {
        self.type_into(css, &format!("{text}\u{E007}"));
    }

    /// Clicks the element matching `css`.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.request(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            None,
        );
    }

    /// First-run flow: waits for the settings form, connects to `connection` as `user` and
    /// waits for the connected status.
    pub fn connect_as(&self, connection: &str, user: &str) {
        self.wait_for(
            "the settings form",
            "const o = document.querySelector('.overlay'); return !!o && !o.hidden",
            json!([]),
        );
        self.type_into("#connection", connection);
        self.type_into("#username", user);
        self.click("#connect");
        self.wait_for(
            "connected status",
            "return document.querySelector('#status').dataset.phase === 'connected'",
            json!([]),
        );
    }

    /// Moves and resizes the window.
    pub fn set_window_rect(&self, x: i64, y: i64, width: i64, height: i64) {
        self.request(
            "POST",
            &self.session_path("/window/rect"),
            Some(json!({"x": x, "y": y, "width": width, "height": height})),
        );
    }

    /// The window's place and size: x, y, width, height.
    pub fn window_rect(&self) -> (i64, i64, i64, i64) {
        let v = self.request("GET", &self.session_path("/window/rect"), None);
        let n = |k: &str| v[k].as_f64().unwrap_or(f64::NAN) as i64;
        (n("x"), n("y"), n("width"), n("height"))
    }

    /// Closes the app (ends the WebDriver session) and waits for it to exit.
    pub fn close(mut self) {
        self.end_session();
    }

    fn end_session(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = ureq::delete(&format!("{}/session/{id}", self.base))
                .set("Connection", "close")
                .call();
        }
    }
}

impl Drop for AppUnderTest {
    fn drop(&mut self) {
        self.end_session();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A fresh `XDG_DATA_HOME` for one test, removed on drop.
pub struct DataHome(pub PathBuf);

impl DataHome {
    /// Creates an empty directory under the system temp dir.
    pub fn new(name: &str) -> DataHome {
        let dir = std::env::temp_dir().join(format!("redchat-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp data home");
        DataHome(dir)
    }

    /// Every file under it whose bytes contain `needle`.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, needle: &[u8], hits: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, needle, hits);
                } else if std::fs::read(&path)
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
                {
                    hits.push(path);
                }
            }
        }
        let mut hits = Vec::new();
        walk(&self.0, needle.as_bytes(), &mut hits);
        hits
    }
}

impl Drop for DataHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
