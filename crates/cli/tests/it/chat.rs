//! Interactive chat in a real pseudo-terminal, read back through a terminal emulator.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::support::*;

/// The emulated screen, and a condition signalled whenever output changed it.
type Screen = Arc<(Mutex<vt100::Parser>, Condvar)>;

struct Terminal {
    screen: Screen,
    writer: Box<dyn Write + Send>,
    /// Receives the child's exit status once it exits.
    exited: std::sync::mpsc::Receiver<portable_pty::ExitStatus>,
}

impl Terminal {
    fn spawn(server: &RedisServer, args: &[&str]) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 100,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("redchat-cli"));
        cmd.args(args);
        cmd.env("REDCHAT_URL", server.url());
        cmd.env("REDCHAT_DATA_DIR", data_dir(server));
        cmd.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let parser = vt100::Parser::new(24.try_into().unwrap(), 100.try_into().unwrap(), 0);
        let screen: Screen = Arc::new((Mutex::new(parser), Condvar::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.0.lock().unwrap().process(&buf[..n]);
                sink.1.notify_all();
            }
        });
        let (exit_tx, exited) = std::sync::mpsc::channel();
        let mut child = child;
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = exit_tx.send(status);
            }
        });
        // Keep the master alive as long as the terminal: dropping it hangs up the child.
        std::mem::forget(pty.master);
        Terminal {
            screen,
            writer,
            exited,
        }
    }

    fn rows_of(parser: &vt100::Parser) -> Vec<String> {
        parser
            .screen()
            .rows(0, 100)
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    /// Waits (woken by each screen update) until `pred` holds for the screen's rows.
    fn wait(&self, what: &str, mut pred: impl FnMut(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let (lock, changed) = &*self.screen;
        let mut parser = lock.lock().unwrap();
        loop {
            let rows = Self::rows_of(&parser);
            if pred(&rows) {
                return rows;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "terminal never showed {what}; screen:\n{}",
                rows.join("\n")
            );
            parser = changed.wait_timeout(parser, left).unwrap().0;
        }
    }

    fn type_text(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }
}

fn last_non_empty(rows: &[String]) -> String {
    rows.iter()
        .rev()
        .find(|r| !r.is_empty())
        .cloned()
        .unwrap_or_default()
}

/// Regression for the original console client's bug: an incoming message garbled the line
/// being typed.
#[test]
fn incoming_message_leaves_the_half_typed_line_intact() {
    let server = RedisServer::start();
    let mut term = Terminal::spawn(&server, &["chat", "--user", "alice"]);
    term.wait("the prompt", |rows| last_non_empty(rows) == ">");
    wait_numsub(&server, "alice", 1);

    term.type_text("@bob hello wor");
    term.wait("the half-typed line", |rows| {
        last_non_empty(rows) == "> @bob hello wor"
    });

    publish(
        &server,
        "alice",
        r#"{"Sender":"carol","Content":"@alice interrupting!"}"#,
    );
    let rows = term.wait("the incoming message above the prompt", |rows| {
        rows.iter()
            .any(|r| r.ends_with("carol [unsigned] [request]: @alice interrupting!"))
            && last_non_empty(rows) == "> @bob hello wor"
    });
    let incoming = rows
        .iter()
        .position(|r| r.ends_with("carol [unsigned] [request]: @alice interrupting!"))
        .unwrap();
    let prompt = rows.iter().rposition(|r| r == "> @bob hello wor").unwrap();
    assert!(
        incoming < prompt,
        "the message prints above the input line:\n{}",
        rows.join("\n")
    );

    // The editor's buffer is intact too: finishing the line sends the whole text.
    let mut bob_conn = raw(&server);
    bob_conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut bob = bob_conn.as_pubsub();
    bob.subscribe("bob").unwrap();
    term.type_text("ld\r");
    let payload: serde_json::Value =
        serde_json::from_slice(bob.get_message().unwrap().get_payload_bytes()).unwrap();
    assert_eq!(payload["Content"], "@bob hello world");
    drop(bob);

    // Nobody on carol's inbox: stored for her (durable), reported inline.
    term.type_text("@carol are you there?\r");
    term.wait("the offline notice", |rows| {
        rows.iter()
            .any(|r| r == "* carol is not active: stored, delivered when they connect")
    });

    term.type_text("/quit\r");
    let status = term.exited.recv_timeout(WAIT).expect("chat exits on /quit");
    assert!(status.success(), "clean exit: {status:?}");
    assert_eq!(numsub(&server, "alice"), 0, "UNSUBSCRIBEd on the way out");
}
