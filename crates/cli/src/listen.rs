//! `listen`: print what arrives, as text or NDJSON, until interrupted or disconnected.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use redchat_core::Event;

use crate::connection::Lifetime;
use crate::{ConnectionArgs, connection, output};

pub async fn run(args: &ConnectionArgs, user: &str, json: bool) -> Result<ExitCode> {
    let (session, mut events) =
        connection::connect(args, user, Vec::new(), Lifetime::Listener).await?;
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            n = events.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    break;
                }
                let mut out = std::io::stdout().lock();
                for event in batch.drain(..) {
                    print_event(&mut out, &event, json)?;
                }
                out.flush()?;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    session.shutdown(Duration::from_secs(2)).await;
    Ok(ExitCode::SUCCESS)
}

fn print_event(out: &mut impl Write, event: &Event, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(event)?)?;
    } else if let Some(line) = output::human(event) {
        writeln!(out, "{line}")?;
    } else if let Some(line) = output::status(event).or_else(|| output::notice(event)) {
        eprintln!("{line}");
    }
    Ok(())
}
