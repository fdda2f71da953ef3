//! `search` and `export`: the local message store `chat` and `listen` keep under
//! `--data-dir`, read without connecting to Redis.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use redchat_core::archive::{Format, Query};
use redchat_core::{Archive, ChatMessage, ConversationId, Event};

use crate::ConnectionArgs;
use crate::output;

/// `--with bob` / `--with @bob` / `--with #team` / `--with ~messages`.
fn conversation(with: Option<&str>) -> Result<Option<ConversationId>> {
    with.map(|w| {
        let raw = if w.starts_with(['@', '#', '~']) {
            w.to_string()
        } else {
            format!("@{w}")
        };
        ConversationId::parse(&raw.to_lowercase()).context("reading --with")
    })
    .transpose()
}

fn open(args: &ConnectionArgs, user: &str) -> Result<Archive> {
    let dir = crate::people::session_dir(args, user)?;
    Ok(Archive::open_read_only(&dir)?)
}

pub fn search(
    args: &ConnectionArgs,
    user: &str,
    with: Option<&str>,
    query: &str,
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let offset = *chrono::Local::now().offset();
    let mut query = Query::parse(query, offset)?;
    if let Some(c) = conversation(with)? {
        query.conversation = Some(c);
    }
    let archive = open(args, user)?;
    let found = archive.search(&query, limit)?;
    let mut out = std::io::stdout().lock();
    for hit in &found.hits {
        if json {
            serde_json::to_writer(&mut out, hit)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", line(hit))?;
        }
    }
    if !json {
        let more = if found.more {
            " (more: narrow the search or raise --limit)"
        } else {
            ""
        };
        eprintln!("{} found{more}", found.hits.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// A hit as a human line: date, conversation, then the line `listen` would print.
fn line(m: &ChatMessage) -> String {
    let day = chrono::DateTime::parse_from_rfc3339(&m.received_at)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    let text = if m.sender.is_empty() {
        format!(
            "[{}] {}",
            output::local_time(&m.received_at),
            output::terminal_safe(&m.content)
        )
    } else {
        output::human(&Event::Chat(m.clone())).unwrap_or_default()
    };
    format!(
        "{day} {} {text}",
        output::terminal_safe(&m.conversation.to_string())
    )
}

pub fn export(
    args: &ConnectionArgs,
    user: &str,
    with: Option<&str>,
    format: &str,
    out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let format: Format = format.parse()?;
    let conversation = conversation(with)?;
    let archive = open(args, user)?;
    match out {
        Some(path) => {
            let file = redchat_core::archive::private_file(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let n = archive.export(conversation.as_ref(), format, std::io::BufWriter::new(file))?;
            eprintln!("{n} messages written to {}", path.display());
        }
        None => {
            archive.export(conversation.as_ref(), format, std::io::stdout().lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
