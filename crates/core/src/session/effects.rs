//! The effects task: carries out what the inbound path asks of the world (store and
//! broadcast a read position, pass presence and membership hints on), so the inbound task
//! never waits on Redis.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, watch};

use super::config::Setup;
use super::inbound::Effect;
use super::readers;
use super::shutdown::Shutdown;
use crate::presence;
use crate::wire::{self, Signal};

/// Carries out what the inbound path asks: store and broadcast read positions, pass hints.
pub(crate) async fn run(
    setup: Arc<Setup>,
    mut rx: mpsc::UnboundedReceiver<Effect>,
    link: watch::Receiver<Option<MultiplexedConnection>>,
    reader: mpsc::UnboundedSender<readers::Command>,
    presence: mpsc::UnboundedSender<presence::Command>,
    mut shutdown: Shutdown,
) {
    loop {
        let effect = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.recv() => return,
        };
        match effect {
            Effect::SaveRead { conversation, at } => {
                let Some(mut conn) = link.borrow().clone() else {
                    continue;
                };
                let keys = &setup.keys;
                let me = &setup.user;
                let text = conversation.to_string();
                let signal = wire::encode_signal(
                    me.as_str(),
                    &Signal::Read {
                        conversation: &text,
                        at,
                    },
                    None,
                );
                let limit = setup.response_timeout;
                // GT: a device that is behind never moves the shared position back (Redis
                // 6.2+; on 6.0 the plain ZADD of the latest mark wins).
                for gt in [true, false] {
                    let mut pipe = redis::pipe();
                    let zadd = pipe.cmd("ZADD").arg(keys.read_positions(me));
                    if gt {
                        zadd.arg("GT");
                    }
                    zadd.arg(at).arg(&text).ignore();
                    pipe.cmd("PUBLISH")
                        .arg(keys.signal_channel(me))
                        .arg(&signal)
                        .ignore();
                    match tokio::time::timeout(limit, pipe.query_async::<()>(&mut conn)).await {
                        Ok(Err(e))
                            if gt && e.to_string().to_ascii_lowercase().contains("syntax") =>
                        {
                            continue;
                        }
                        Ok(Err(e)) => tracing::info!("could not save the read position: {e}"),
                        _ => {}
                    }
                    break;
                }
            }
            Effect::PresenceHint { user } => {
                let _ = presence.send(presence::Command::Hint(user));
            }
            Effect::MembershipHint { ours } => {
                if ours {
                    let _ = reader.send(readers::Command::Resync);
                }
                let _ = presence.send(presence::Command::Refresh);
            }
        }
    }
}
