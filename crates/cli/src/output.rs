//! How events look in a terminal. Remote text is untrusted: control characters (escape
//! sequences could rewrite the screen) are shown as `·`.

use chrono::{DateTime, Local};
use redchat_core::session::State;
use redchat_core::{Event, MemberAction, OutgoingState, Topology, Trust};

/// `HH:MM:SS` local time of an RFC 3339 timestamp.
pub fn local_time(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Local).format("%H:%M:%S").to_string())
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
        Event::Chat(m) => Some(match &m.room {
            Some(room) => format!(
                "[{}] #{} {}{}: {}",
                local_time(&m.received_at),
                terminal_safe(room),
                terminal_safe(&m.sender),
                marks(m),
                terminal_safe(&m.content)
            ),
            None => format!(
                "[{}] {}{}: {}",
                local_time(&m.received_at),
                terminal_safe(&m.sender),
                marks(m),
                terminal_safe(&m.content)
            ),
        }),
        Event::KeyChanged { user, .. } => Some(format!(
            "!! {}'s key changed: their messages say [KEY CHANGED] until you compare safety numbers (redchat-cli contact {0}) and accept it (--accept-key)",
            terminal_safe(user)
        )),
        Event::Membership(m) => Some(format!(
            "[{}] #{}: {} {}",
            local_time(&m.received_at),
            terminal_safe(&m.room),
            terminal_safe(&m.user),
            match m.action {
                MemberAction::Join => "joined",
                MemberAction::Leave => "left",
            }
        )),
        Event::Plain(p) => Some(format!(
            "[{}] ~{}: {}",
            local_time(&p.received_at),
            terminal_safe(&p.channel),
            terminal_safe(&p.text)
        )),
        Event::Unreadable(u) => Some(format!(
            "[{}] ~{}: unreadable message ({}, {} bytes): {}",
            local_time(&u.received_at),
            terminal_safe(&u.channel),
            u.reason,
            u.size,
            terminal_safe(&u.preview)
        )),
        _ => None,
    }
}

/// What a chat line says about its sender besides the name: trust, requests, odd names.
fn marks(m: &redchat_core::ChatMessage) -> String {
    let mut out = String::new();
    match m.trust {
        Trust::Verified => out.push_str(" [verified]"),
        Trust::Signed => {}
        Trust::Unsigned => out.push_str(" [unsigned]"),
        Trust::Invalid => out.push_str(" [FORGED: the signature does not verify]"),
        Trust::KeyChanged => out.push_str(" [KEY CHANGED: not the key you know]"),
    }
    if m.request {
        out.push_str(" [request]");
    }
    if let Some(issue) = &m.sender_issue {
        out.push_str(&format!(" [suspicious name: {}]", terminal_safe(issue)));
    }
    if let Some(other) = &m.lookalike {
        out.push_str(&format!(" [looks like {}]", terminal_safe(other)));
    }
    out
}

/// A line about the session (status, our messages' fate, catch-up) for stderr or the chat's
/// `*`/`!` lines; `None` for messages and for states not worth a line.
pub fn notice(event: &Event) -> Option<String> {
    match event {
        Event::Status(_) => status(event).map(|s| format!("* {s}")),
        Event::Outgoing(o) => {
            let to = terminal_safe(&match &o.message.conversation {
                redchat_core::ConversationId::Direct(peer) => peer.to_string(),
                other => other.to_string(),
            });
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
        Event::Notice { code, text } => {
            Some(format!("* [{}] {}", code.as_str(), terminal_safe(text)))
        }
        Event::Blocked { user, count } => Some(format!(
            "* {count} message(s) from blocked {} dropped",
            terminal_safe(user)
        )),
        Event::Presence { user, online, .. } => Some(format!(
            "* {} is {}",
            terminal_safe(user),
            if *online { "online" } else { "offline" }
        )),
        Event::Typing(t) => Some(format!(
            "* {} is typing in {}",
            terminal_safe(&t.user),
            t.conversation
        )),
        _ => None,
    }
}

/// A status line for stderr.
pub fn status(event: &Event) -> Option<String> {
    let Event::Status(s) = event else { return None };
    Some(match s.state {
        State::Connected => match s.topology {
            Topology::Standalone => format!("connected as {} to {}", s.user, s.addr),
            Topology::Sentinel => format!(
                "connected as {} to {} (the master the sentinels name; {} node(s))",
                s.user, s.addr, s.nodes
            ),
            Topology::Cluster => format!(
                "connected as {} to {} (cluster of {} node(s))",
                s.user, s.addr, s.nodes
            ),
        },
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
