//! Shared helpers: sessions on a spawned server, bounded waits for events.

use std::time::Duration;

use redchat_core::{ConnectionSettings, Event, Events, Session, SessionConfig, Username};

pub use redchat_core::testing::RedisServer;

/// Upper bound for any single wait on an event. Generous: a bound, not a timing goal.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn settings(url: &str) -> ConnectionSettings {
    ConnectionSettings::parse(url)
        .expect("test URL parses")
        .settings
}

pub async fn connect(server: &RedisServer, user: &str) -> (Session, Events) {
    let config = SessionConfig::new(settings(&server.url()), Username::parse(user).unwrap());
    Session::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{user} should connect: {e}"))
}

/// A message-like event (chat, plain text, unreadable), not status, catch-up or notices.
pub fn is_message(e: &Event) -> bool {
    matches!(e, Event::Chat(_) | Event::Plain(_) | Event::Unreadable(_))
}

/// Waits for the first event matching `pred`, skipping others; panics after [`WAIT`].
pub async fn next_matching(
    events: &mut Events,
    what: &str,
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.recv().await {
            if pred(&event) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        Ok(None) => panic!("event stream ended while waiting for {what}"),
        Err(_) => panic!("no {what} within {WAIT:?}"),
    }
}

pub fn raw(server: &RedisServer) -> redis::Connection {
    server.raw()
}

pub fn publish(server: &RedisServer, channel: &str, payload: &[u8]) -> u64 {
    server.publish(channel, payload)
}

pub fn numsub(server: &RedisServer, channel: &str) -> u64 {
    server.numsub(channel)
}

/// Connects `user` with `tweak` applied to the config (presence beat, data dir, devices).
pub async fn connect_with(
    server: &RedisServer,
    user: &str,
    tweak: impl FnOnce(&mut SessionConfig),
) -> (Session, Events) {
    let mut config = SessionConfig::new(settings(&server.url()), Username::parse(user).unwrap());
    config.presence_beat = Duration::from_millis(200);
    tweak(&mut config);
    Session::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{user} should connect: {e}"))
}

/// Waits for the first chat message, skipping everything else.
pub async fn next_chat(events: &mut Events, what: &str) -> redchat_core::ChatMessage {
    match next_matching(events, what, |e| matches!(e, Event::Chat(_))).await {
        Event::Chat(m) => m,
        _ => unreachable!(),
    }
}

/// Waits until the session reports having joined `conversation` (the reader subscribed).
pub async fn joined(events: &mut Events, conversation: &str) {
    next_matching(events, &format!("joined {conversation}"), |e| {
        matches!(e, Event::Joined { conversations } if conversations.iter().any(|c| c.to_string() == conversation))
    })
    .await;
}
