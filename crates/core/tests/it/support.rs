//! Shared helpers: sessions on a spawned server, bounded waits for events.

use std::time::Duration;

use std::collections::HashSet;

use redchat_core::{
    ConnectionSettings, Event, Events, Session, SessionConfig, State, Username, parse_line,
};

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

/// Bound for a whole exchange across a failover (a bound, not a timing goal).
pub const EXCHANGE: Duration = Duration::from_secs(60);

/// Line `i` of the chat: even ones to bob, odd ones to the room.
pub fn line(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!("@bob d-{i:03}")
    } else {
        format!("#team r-{i:03}")
    }
}

/// What bob is shown for line `i` (a room line without its `#team` prefix).
pub fn shown(i: usize) -> String {
    let l = line(i);
    match l.strip_prefix("#team ") {
        Some(rest) => rest.to_string(),
        None => l,
    }
}

/// Submits lines `range` 50 ms apart (the chat's pace, not a synchronisation).
pub async fn chat(alice: &Session, range: std::ops::Range<usize>) {
    for i in range {
        alice.submit(parse_line(&line(i)).unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads bob's events until every expected message arrived; fails on a duplicate, an
/// unexpected message or a wrong order within a conversation (`expected` is in send order).
pub async fn expect_in_order(events: &mut Events, expected: &[String]) {
    let mut got: Vec<(String, String)> = Vec::new();
    let mut seen = HashSet::new();
    let result = tokio::time::timeout(EXCHANGE, async {
        while got.len() < expected.len() {
            match events.recv().await {
                Some(Event::Chat(m)) => {
                    assert!(seen.insert(m.content.clone()), "shown twice: {}", m.content);
                    assert!(expected.contains(&m.content), "unexpected: {}", m.content);
                    got.push((m.conversation.to_string(), m.content));
                }
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "only {} of {} messages arrived: missing {:?}",
        got.len(),
        expected.len(),
        expected
            .iter()
            .filter(|e| !seen.contains(*e))
            .collect::<Vec<_>>()
    );
    let conversations: HashSet<&String> = got.iter().map(|(c, _)| c).collect();
    for conversation in conversations {
        let shown: Vec<&String> = got
            .iter()
            .filter(|(c, _)| c == conversation)
            .map(|(_, m)| m)
            .collect();
        let sent: Vec<&String> = expected.iter().filter(|m| shown.contains(m)).collect();
        assert_eq!(shown, sent, "in order within {conversation}");
    }
}

/// Hands every event to `f` until it returns true.
pub async fn until(events: &mut Events, what: &str, mut f: impl FnMut(&Event) -> bool) {
    let found = tokio::time::timeout(EXCHANGE, async {
        loop {
            match events.recv().await {
                Some(e) if f(&e) => return,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {EXCHANGE:?}"));
}

/// Waits for a Connected status naming `port`; returns it.
pub async fn connected_to(events: &mut Events, port: u16) -> redchat_core::Status {
    let addr = format!("127.0.0.1:{port}");
    let found = tokio::time::timeout(EXCHANGE, async {
        loop {
            match events.recv().await {
                Some(Event::Status(s)) if s.state == State::Connected && s.addr == addr => {
                    return s;
                }
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("not connected to {addr} within {EXCHANGE:?}"))
}

/// Bob's session still receives on the new master: a plain-text PUBLISH to his inbox and
/// an entry appended to his inbox stream both arrive, and no late duplicate before them.
pub async fn assert_live_at(port: u16, events: &mut Events, durable: bool) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut raw = client.get_connection().unwrap();
    let probe = format!("probe-{}", redchat_core::wire::new_id());
    let stream_probe = format!("{probe}-stream");
    if durable {
        let _: String = redis::cmd("XADD")
            .arg("redchat:{u:bob}:inbox")
            .arg("*")
            .arg("payload")
            .arg(&stream_probe)
            .query(&mut raw)
            .unwrap();
    }
    let (mut live, mut stored) = (false, !durable);
    let result = tokio::time::timeout(EXCHANGE, async {
        while !(live && stored) {
            if !live {
                let _: u64 = redis::cmd("PUBLISH")
                    .arg("bob")
                    .arg(&probe)
                    .query(&mut raw)
                    .unwrap();
            }
            // Bounded read between probes; the probe itself is the event we wait for.
            let Ok(event) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            else {
                continue;
            };
            match event {
                Some(Event::Plain(p)) if p.text == probe => live = true,
                Some(Event::Plain(p)) if p.text == stream_probe => stored = true,
                Some(Event::Chat(m)) => panic!("late or duplicate message: {}", m.content),
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "bob not live on the new master within {EXCHANGE:?} (live {live}, stream {stored})"
    );
}

pub async fn both_in_the_room(alice: &Session, a: &mut Events, bob: &Session, b: &mut Events) {
    alice.join("#team").await.unwrap();
    joined(a, "#team").await;
    bob.join("#team").await.unwrap();
    joined(b, "#team").await;
}

/// A session config for fault tests: short timeouts and heartbeat, so a dead link is
/// noticed in about a second.
pub fn fault_config(
    url: &str,
    user: &str,
    delivery: redchat_core::Delivery,
    data_dir: Option<std::path::PathBuf>,
) -> SessionConfig {
    let mut s = settings(url);
    s.connect_timeout = Duration::from_secs(2);
    s.response_timeout = Duration::from_secs(1);
    let mut config = SessionConfig::new(s, Username::parse(user).unwrap());
    config.heartbeat = Duration::from_millis(500);
    config.delivery = delivery;
    config.data_dir = data_dir;
    config
}
