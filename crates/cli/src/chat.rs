//! Interactive chat. The original console client broke here: incoming lines garbled the line
//! being typed. rustyline's external printer prints above the prompt and redraws the partly
//! typed line, so it stays intact on screen and in the editor.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use redchat_core::{ConversationId, Draft, Event, State, parse_line};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::runtime::Runtime;

use crate::connection::Lifetime;
use crate::{ConnectionArgs, connection, output};

/// Runs the chat until Ctrl-D or `/quit`. With `broadcast`, lines go as plain text
/// (`user: text`) to that shared channel, as the original console client did.
pub fn run(
    runtime: &Runtime,
    args: &ConnectionArgs,
    user: &str,
    broadcast: Option<String>,
) -> Result<ExitCode> {
    let extra = broadcast.iter().cloned().collect();
    let (session, mut events) = runtime.block_on(connection::connect(
        args,
        user,
        extra,
        Lifetime::Interactive,
    ))?;
    let me = session.user().to_string();
    let (mut input, mut print) = Input::open()?;
    let own_channel = broadcast.clone();
    let me_for_printer = me.clone();
    runtime.spawn(async move {
        let mut batch = Vec::new();
        let mut quiet = QuietStatus::default();
        while events.recv_many(&mut batch, 256).await > 0 {
            let lines: Vec<String> = batch
                .drain(..)
                .filter_map(|event| {
                    // Our own broadcast lines come back on the shared channel: don't echo.
                    if let (Some(channel), Event::Plain(p)) = (&own_channel, &event)
                        && &p.channel == channel
                        && p.text.starts_with(&format!("{me_for_printer}: "))
                    {
                        return None;
                    }
                    if let Event::Status(s) = &event
                        && !quiet.worth_a_line(s)
                    {
                        return None;
                    }
                    // Typing and presence changes would flood a terminal chat.
                    if matches!(event, Event::Typing(_) | Event::Presence { .. }) {
                        return None;
                    }
                    output::human(&event).or_else(|| output::notice(&event))
                })
                .collect();
            if !lines.is_empty() && !print(lines.join("\n")) {
                break;
            }
        }
    });

    match &broadcast {
        Some(channel) => println!(
            "Chatting as {me} on ~{channel}. Type a line and press Enter; Ctrl-D or /quit to leave."
        ),
        None => println!(
            "Chatting as {me}. Type @name message or #room message and press Enter; /join #room, \
             /leave, /who; /retry reconnects now (or /retry <id> sends a failed message again); \
             Ctrl-D or /quit to leave."
        ),
    }
    let mut peer: Option<ConversationId> = None;
    loop {
        let prompt = match (&broadcast, &peer) {
            (Some(channel), _) => format!("~{channel}> "),
            (None, Some(p)) => format!("{p}> "),
            (None, None) => "> ".to_string(),
        };
        let Some(line) = input.read(&prompt)? else {
            break;
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if text == "/quit" {
            break;
        }
        if text == "/retry" {
            session.retry_now();
            continue;
        }
        if let Some(id) = text.strip_prefix("/retry ") {
            if let Err(e) = runtime.block_on(retry(&session, id.trim())) {
                eprintln!("! {e}");
            }
            continue;
        }
        if let Some(rest) = text.strip_prefix("/join") {
            match runtime.block_on(session.join(rest.trim())) {
                Ok(c) => {
                    println!("* joined {c}");
                    peer = Some(c);
                }
                Err(e) => eprintln!("! {e}"),
            }
            continue;
        }
        if let Some(rest) = text.strip_prefix("/leave") {
            let target = match rest.trim() {
                "" => peer
                    .clone()
                    .filter(|c| !matches!(c, ConversationId::Direct(_))),
                name => ConversationId::parse(name).ok(),
            };
            let Some(target) = target else {
                eprintln!("! /leave #room (or open a room first)");
                continue;
            };
            match runtime.block_on(session.leave(&target)) {
                Ok(()) => {
                    println!("* left {target}");
                    if peer.as_ref() == Some(&target) {
                        peer = None;
                    }
                }
                Err(e) => eprintln!("! {e}"),
            }
            continue;
        }
        if text == "/who" {
            match runtime.block_on(session.who()) {
                Ok(users) => {
                    let online: Vec<String> = users
                        .iter()
                        .filter(|m| m.online)
                        .map(|m| output::terminal_safe(&m.user))
                        .collect();
                    println!(
                        "* online: {}",
                        if online.is_empty() {
                            "nobody".into()
                        } else {
                            online.join(", ")
                        }
                    );
                }
                Err(e) => eprintln!("! {e}"),
            }
            continue;
        }
        input.remember(text);
        if let Some(channel) = &broadcast {
            if let Err(e) =
                runtime.block_on(session.publish_text(channel, &format!("{me}: {text}")))
            {
                eprintln!("! not sent: {e}");
            }
            continue;
        }
        let draft = match (text.starts_with('@') || text.starts_with('#'), &peer) {
            (false, Some(p)) => Draft::in_conversation(p.clone(), text),
            _ => parse_line(text),
        };
        let draft = match draft {
            Ok(d) => d,
            Err(e) => {
                eprintln!("! {e}");
                continue;
            }
        };
        peer = Some(draft.to.clone());
        // Into the outbox (on disk): sent as soon as the link is up; the printer reports
        // "stored", "not delivered" or "failed" when it is settled.
        match runtime.block_on(session.submit(draft)) {
            Ok(_) if !session.is_connected() => {
                println!("* queued: not connected, sent when the connection is back");
            }
            Ok(_) => {}
            Err(e) => eprintln!("! not sent: {e}"),
        }
    }
    runtime.block_on(session.shutdown(Duration::from_secs(2)));
    Ok(ExitCode::SUCCESS)
}

/// Queues the failed message whose id starts with `prefix` again.
async fn retry(session: &redchat_core::Session, prefix: &str) -> redchat_core::Result<()> {
    if prefix.len() < 4 {
        return Err(redchat_core::Error::InvalidMessage(
            "give at least the first 4 characters of the message id".into(),
        ));
    }
    session.retry(prefix).await
}

/// Status lines worth printing: state or reason changes, and reconnect attempts 1, 2, 4, 8…
/// (a long outage should not flood the screen).
#[derive(Default)]
struct QuietStatus {
    last: Option<(State, Option<String>)>,
}

impl QuietStatus {
    fn worth_a_line(&mut self, s: &redchat_core::Status) -> bool {
        let now = (s.state, s.reason.clone());
        let changed = self.last.as_ref() != Some(&now);
        self.last = Some(now);
        changed || s.attempt.is_power_of_two()
    }
}

/// Where lines come from: a line editor on a terminal, plain lines from a pipe (scripts).
enum Input {
    Editor(DefaultEditor),
    Plain(std::io::Lines<std::io::StdinLock<'static>>),
}

type Printer = Box<dyn FnMut(String) -> bool + Send>;

impl Input {
    /// The input and a printer for incoming text that does not disturb it.
    fn open() -> Result<(Input, Printer)> {
        if !std::io::stdin().is_terminal() {
            let print: Printer = Box::new(|text| {
                println!("{text}");
                true
            });
            return Ok((Input::Plain(std::io::stdin().lock().lines()), print));
        }
        let mut editor = DefaultEditor::new().context("starting the line editor")?;
        let mut printer = editor
            .create_external_printer()
            .context("starting the line editor")?;
        let print: Printer = Box::new(move |text| printer.print(text).is_ok());
        Ok((Input::Editor(editor), print))
    }

    /// The next line; `None` at end of input (Ctrl-D).
    fn read(&mut self, prompt: &str) -> Result<Option<String>> {
        match self {
            Input::Editor(editor) => loop {
                match editor.readline(prompt) {
                    Ok(line) => return Ok(Some(line)),
                    Err(ReadlineError::Interrupted) => continue,
                    Err(ReadlineError::Eof) => return Ok(None),
                    Err(e) => return Err(e).context("reading input"),
                }
            },
            Input::Plain(lines) => lines.next().transpose().context("reading input"),
        }
    }

    fn remember(&mut self, line: &str) {
        if let Input::Editor(editor) = self {
            let _ = editor.add_history_entry(line);
        }
    }
}
