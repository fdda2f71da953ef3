//! The local message store under a real session: history beyond the stream trim, a restart
//! that shows stored history at once and reconciles without duplicates, history offline.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use redchat_core::{ConversationId, Event, HistoryCursor, Session, Username, parse_line};

use crate::support::*;

fn temp_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "redchat-archive-it-{what}-{}",
        redchat_core::wire::new_id()
    ))
}

fn bob() -> ConversationId {
    ConversationId::Direct(Username::parse("bob").unwrap())
}

async fn with_dir(
    server: &RedisServer,
    user: &str,
    dir: &std::path::Path,
) -> (Session, redchat_core::Events) {
    let dir = dir.to_path_buf();
    connect_with(server, user, move |c| c.data_dir = Some(dir)).await
}

async fn receive(events: &mut redchat_core::Events, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        ids.push(next_chat(events, "a message from bob").await.id);
    }
    ids
}

fn flush(session: &Session) {
    assert!(session.archive().unwrap().flush(Duration::from_secs(10)));
}

/// Every page of `conversation`, oldest first.
async fn all_pages(session: &Session, conversation: &ConversationId) -> Vec<String> {
    let mut pages = Vec::new();
    let mut before: Option<HistoryCursor> = None;
    loop {
        let page = session
            .history(Some(conversation), before.clone(), 7)
            .await
            .unwrap();
        pages.push(
            page.messages
                .iter()
                .map(|m| m.content.clone())
                .collect::<Vec<_>>(),
        );
        match page.more {
            Some(more) => before = Some(more),
            None => break,
        }
        assert!(pages.len() < 40, "paging ends");
    }
    pages.into_iter().rev().flatten().collect()
}

#[tokio::test]
async fn history_beyond_the_stream_trim_stays_on_the_device() {
    let server = RedisServer::start();
    let dir = temp_dir("trim");
    let (alice, mut events) = with_dir(&server, "alice", &dir).await;
    let (sender, _b) = connect(&server, "bob").await;
    let expected: Vec<String> = (0..30).map(|i| format!("@alice m{i:02}")).collect();
    for line in &expected {
        sender.send(parse_line(line).unwrap()).await.unwrap();
    }
    receive(&mut events, 30).await;
    flush(&alice);
    alice.shutdown(Duration::from_secs(5)).await;
    drop((alice, events));

    // The server keeps only the newest 5 (a trim, or MAXLEN on a busy inbox).
    let inbox = redchat_core::Keys::new(&Default::default())
        .inbox_stream(&Username::parse("alice").unwrap());
    let _: i64 = redis::cmd("XTRIM")
        .arg(&inbox)
        .arg("MAXLEN")
        .arg(5)
        .query(&mut server.raw())
        .unwrap();
    let left: i64 = redis::cmd("XLEN")
        .arg(&inbox)
        .query(&mut server.raw())
        .unwrap();
    assert_eq!(left, 5);

    let (alice, _events) = with_dir(&server, "alice", &dir).await;
    assert_eq!(
        all_pages(&alice, &bob()).await,
        expected,
        "all 30, in order, none twice"
    );
}

#[tokio::test]
async fn a_restart_shows_stored_history_at_once_and_reconciles_without_duplicates() {
    let server = RedisServer::start();
    let dir = temp_dir("restart");
    let (sender, _b) = connect(&server, "bob").await;
    // Older history that reached Redis before this device ever ran: only Redis has it.
    for i in 0..6 {
        sender
            .send(parse_line(&format!("@alice old{i}")).unwrap())
            .await
            .unwrap();
    }
    let (alice, mut events) = with_dir(&server, "alice", &dir).await;
    // The first page comes from Redis (the store is empty) and is stored.
    let first = alice.history(Some(&bob()), None, 100).await.unwrap();
    assert_eq!(first.messages.len(), 6);
    for i in 0..10 {
        sender
            .send(parse_line(&format!("@alice live{i}")).unwrap())
            .await
            .unwrap();
    }
    let mut seen: HashSet<String> = receive(&mut events, 10).await.into_iter().collect();
    flush(&alice);
    alice.shutdown(Duration::from_secs(5)).await;
    drop((alice, events));

    // While this device is away, five more arrive.
    for i in 0..5 {
        sender
            .send(parse_line(&format!("@alice away{i}")).unwrap())
            .await
            .unwrap();
    }
    let (alice, mut events) = with_dir(&server, "alice", &dir).await;
    // At once, from the store: the newest 10 stored, without asking Redis (the cursor says
    // where the store goes on).
    let stored = alice.history(Some(&bob()), None, 10).await.unwrap();
    let contents: Vec<&str> = stored.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents.first(), Some(&"@alice live0"));
    assert_eq!(contents.len(), 10);
    assert!(stored.more.as_ref().unwrap().0.contains_key("local"));
    // The catch-up brings the five from Redis, once.
    let mut caught_up = 0;
    while caught_up == 0 {
        match events.recv().await.expect("events") {
            Event::Chat(m) => assert!(seen.insert(m.id), "nothing shown twice"),
            Event::CaughtUp { count } => caught_up = count,
            _ => {}
        }
    }
    assert_eq!(caught_up, 5);
    flush(&alice);
    let history = all_pages(&alice, &bob()).await;
    let unique: HashSet<&String> = history.iter().collect();
    assert_eq!(history.len(), 21, "6 old + 10 live + 5 away: {history:?}");
    assert_eq!(unique.len(), 21, "no duplicates between store and streams");
    assert_eq!(alice.archive().unwrap().count().unwrap(), 21);
}

#[tokio::test]
async fn stored_history_is_there_while_the_server_is_away() {
    let mut server = RedisServer::start_persistent();
    let dir = temp_dir("offline");
    let (alice, mut events) = with_dir(&server, "alice", &dir).await;
    let (sender, _b) = connect(&server, "bob").await;
    for i in 0..4 {
        sender
            .send(parse_line(&format!("@alice m{i}")).unwrap())
            .await
            .unwrap();
    }
    receive(&mut events, 4).await;
    flush(&alice);
    server.kill();
    let page = alice.history(Some(&bob()), None, 50).await.unwrap();
    assert_eq!(page.messages.len(), 4, "from the store, without Redis");
    // Older pages need Redis: asking for one offline says so.
    let more = page.more.expect("Redis may have older ones");
    let err = alice
        .history(Some(&bob()), Some(more), 50)
        .await
        .unwrap_err();
    assert!(matches!(err, redchat_core::Error::NotConnected), "{err}");
}
