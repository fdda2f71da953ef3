//! How events look in a terminal. Remote text is untrusted: control characters (escape
//! sequences could rewrite the screen) are shown as `·`.

use std::sync::OnceLock;

use redchat_core::session::State;
use redchat_core::{Event, OutgoingState};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Records the local UTC offset; call while the process is single-threaded.
pub fn init_local_offset() {
    let _ = LOCAL_OFFSET.set(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC));
}

/// `HH:MM:SS` local time of an RFC 3339 timestamp.
pub fn local_time(rfc3339: &str) -> String {
    let offset = LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC);
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .map(|t| {
            let t = t.to_offset(offset);
            format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
        })
        .unwrap_or_else(|_| "--:--:--".into())
}

/// `text` with every control character except newline and tab replaced by `·`.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '·'
            } else {
                c
            }
        })
        .collect()
}

/// One human-readable line for an event, or `None` for events only shown on stderr.
pub fn human(event: &Event) -> Option<String> {
    match event {
        Event::Chat(m) => Some(format!(
            "[{}] {}: {}",
            local_time(&m.received_at),
            terminal_safe(&m.sender),
            terminal_safe(&m.content)
        )),
        Event::Plain(p) => Some(format!(
            "[{}] #{}: {}",
            local_time(&p.received_at),
            terminal_safe(&p.channel),
            terminal_safe(&p.text)
        )),
        Event::Unreadable(u) => Some(format!(
            "[{}] #{}: unreadable message ({}, {} bytes): {}",
            local_time(&u.received_at),
            terminal_safe(&u.channel),
            u.reason,
            u.size,
            terminal_safe(&u.preview)
        )),
        Event::Status(_) | Event::Outgoing(_) | Event::CaughtUp { .. } | Event::Notice { .. } => {
            None
        }
    }
}

/// A line about the session (status, our messages' fate, catch-up) for stderr or the chat's
/// `*`/`!` lines; `None` for messages and for states not worth a line.
pub fn notice(event: &Event) -> Option<String> {
    match event {
        Event::Status(_) => status(event).map(|s| format!("* {s}")),
        Event::Outgoing(o) => {
            let to = terminal_safe(o.message.to.as_deref().unwrap_or("?"));
            let short = o.message.id.get(..8).unwrap_or(&o.message.id);
            match o.state {
                OutgoingState::Delivered => None,
                OutgoingState::Queued => Some(format!(
                    "* queued for {to} (sent when connected): {}",
                    terminal_safe(&o.message.content)
                )),
                OutgoingState::Stored => Some(format!(
                    "* {to} is not active: stored, delivered when they connect"
                )),
                OutgoingState::NotDelivered => Some(format!(
                    "! {to} is not active: the message was not delivered"
                )),
                OutgoingState::Failed => Some(format!(
                    "! not sent to {to}: {} (type /retry {short} to try again)",
                    o.reason.as_deref().unwrap_or("refused")
                )),
            }
        }
        Event::CaughtUp { count: 0 } => None,
        Event::CaughtUp { count } => Some(format!(
            "* {count} message{} arrived while you were away",
            if *count == 1 { "" } else { "s" }
        )),
        Event::Notice { text } => Some(format!("* {}", terminal_safe(text))),
        _ => None,
    }
}

/// A status line for stderr.
pub fn status(event: &Event) -> Option<String> {
    let Event::Status(s) = event else { return None };
    Some(match s.state {
        State::Connected => format!("connected as {} to {}", s.user, s.addr),
        State::Reconnecting => {
            let mut line = format!(
                "reconnecting to {}: {}",
                s.addr,
                s.reason.as_deref().unwrap_or("connection lost")
            );
            if s.attempt > 0 {
                line.push_str(&format!(" (attempt {}", s.attempt));
                if let Some(ms) = s.retry_in_ms {
                    line.push_str(&format!(", next try in {:.1} s", ms as f64 / 1000.0));
                }
                line.push(')');
            }
            if s.queued > 0 {
                line.push_str(&format!("; {} message(s) waiting", s.queued));
            }
            line
        }
        State::Disconnected => format!("disconnected from {}", s.addr),
    })
}
