//! `join`, `leave`, `rooms`, `members`, `who`: one-shot commands for scripts and bots.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use redchat_core::{ConversationId, Event, Events, Member, Session};
use serde_json::json;

use crate::connection::Lifetime;
use crate::{ConnectionArgs, connection, output};

/// `#team`, `team` (a room) or `~messages` (a raw channel) as given on the command line.
fn room_arg(room: &str) -> Result<ConversationId> {
    let text = if room.starts_with(['#', '~']) {
        room.to_string()
    } else {
        format!("#{room}")
    };
    ConversationId::parse(&text).context("reading the room")
}

async fn open(args: &ConnectionArgs, user: &str) -> Result<(Session, Events)> {
    connection::connect(args, user, Vec::new(), Lifetime::OneShot).await
}

/// Waits (a few seconds at most) for the joined list loaded after connecting.
async fn joined(events: &mut Events) -> Option<Vec<ConversationId>> {
    let wait = async {
        while let Some(event) = events.recv().await {
            if let Event::Joined { conversations } = event {
                return Some(conversations);
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .ok()
        .flatten()
}

pub async fn join(args: &ConnectionArgs, user: &str, room: &str) -> Result<ExitCode> {
    let (session, _events) = open(args, user).await?;
    let result = session.join(room).await;
    session.shutdown(Duration::from_secs(2)).await;
    let conversation = result.with_context(|| format!("joining {room}"))?;
    println!("joined {conversation}");
    Ok(ExitCode::SUCCESS)
}

pub async fn leave(args: &ConnectionArgs, user: &str, room: &str) -> Result<ExitCode> {
    let conversation = room_arg(room)?;
    let (session, _events) = open(args, user).await?;
    let result = session.leave(&conversation).await;
    session.shutdown(Duration::from_secs(2)).await;
    result.with_context(|| format!("leaving {conversation}"))?;
    println!("left {conversation}");
    Ok(ExitCode::SUCCESS)
}

pub async fn rooms(args: &ConnectionArgs, user: &str, as_json: bool) -> Result<ExitCode> {
    let (session, mut events) = open(args, user).await?;
    let list = joined(&mut events).await;
    session.shutdown(Duration::from_secs(2)).await;
    let list = list.context("the room list did not arrive")?;
    for c in list {
        if as_json {
            println!(
                "{}",
                json!({ "conversation": c.to_string(), "room": c.room().map(|r| r.as_str().to_string()) })
            );
        } else {
            println!("{c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_member(m: &Member, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        let state = match (&m.online, &m.last_seen) {
            (true, _) => "online".to_string(),
            (false, Some(seen)) => format!("offline (last seen {})", output::local_time(seen)),
            (false, None) => "offline".to_string(),
        };
        println!("{}\t{state}", output::terminal_safe(&m.user));
    }
    Ok(())
}

pub async fn members(
    args: &ConnectionArgs,
    user: &str,
    room: &str,
    as_json: bool,
) -> Result<ExitCode> {
    let conversation = room_arg(room)?;
    let (session, _events) = open(args, user).await?;
    let result = session.members(&conversation).await;
    session.shutdown(Duration::from_secs(2)).await;
    let (members, unreadable) = result.with_context(|| format!("members of {conversation}"))?;
    for m in &members {
        print_member(m, as_json)?;
    }
    if unreadable > 0 {
        eprintln!("{unreadable} unreadable entries in the member set of {conversation}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn who(args: &ConnectionArgs, user: &str, as_json: bool) -> Result<ExitCode> {
    let (session, _events) = open(args, user).await?;
    let result = session.who().await;
    session.shutdown(Duration::from_secs(2)).await;
    for m in result.context("who is online")?.iter().filter(|m| m.online) {
        print_member(m, as_json)?;
    }
    Ok(ExitCode::SUCCESS)
}
