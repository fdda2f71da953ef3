//! `send`: one message, then exit with a code scripts can test.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use redchat_core::{ConversationId, Draft, parse_line};

use crate::connection::Lifetime;
use crate::{ConnectionArgs, EXIT_NOT_DELIVERED, connection};

pub async fn run(
    args: &ConnectionArgs,
    user: &str,
    to: Option<&str>,
    message: &str,
) -> Result<ExitCode> {
    let draft = match to {
        Some(to) => {
            Draft::in_conversation(ConversationId::parse(to).context("reading --to")?, message)
        }
        None => parse_line(message),
    }
    .context("reading the message")?;
    let (session, _events) = connection::connect(args, user, Vec::new(), Lifetime::OneShot).await?;
    let result = session.send(draft).await;
    session.shutdown(Duration::from_secs(2)).await;
    let report = result.context("sending")?;
    println!("{}", report.receivers);
    let to = match &report.message.conversation {
        ConversationId::Direct(peer) => peer.to_string(),
        other => other.to_string(),
    };
    match (report.receivers, report.stored) {
        (0, true) => eprintln!("{to} is not active: stored, delivered when they connect"),
        (0, false) => {
            eprintln!("{to} is not active: the message was not delivered");
            return Ok(ExitCode::from(EXIT_NOT_DELIVERED));
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
