//! The local message store in the real window (a module of the one e2e binary): search finds
//! a message from an earlier session, after Redis forgot it, and opens it in context.

use redchat_core::testing::RedisServer;
use redchat_e2e::{AppUnderTest, DataHome};
use serde_json::json;

fn publish(server: &RedisServer, payload: &str) {
    let _: u64 = redis::cmd("PUBLISH")
        .arg("alice")
        .arg(payload)
        .query(&mut server.raw())
        .unwrap();
}

#[test]
fn search_finds_a_message_from_an_earlier_session_and_opens_it_in_context() {
    let server = RedisServer::start();
    let home = DataHome::new("search");
    let url = format!("redis://127.0.0.1:{}", server.port());

    // First session: bob's messages (a request: the window holds up to 20 of a stranger's) (the original client's format: live only, never in a
    // stream) arrive and are stored on the device.
    let app = AppUnderTest::start(&home.0);
    app.connect_as(&url, "alice");
    for i in 0..18 {
        let text = if i == 8 {
            "the launch code is pelican".to_string()
        } else {
            format!("filler line {i}")
        };
        publish(
            &server,
            &format!(
                r#"{{"Id":0,"Sender":"bob","Content":"@alice {text}","ReceivedAt":"0001-01-01T00:00:00"}}"#
            ),
        );
    }
    app.wait_for(
        "bob's request",
        "return document.querySelector('#requests li[data-conversation=\"@bob\"]') !== null",
        json!([]),
    );
    app.click("#requests li[data-conversation='@bob']");
    app.wait_for(
        "the last one shown",
        "return [...document.querySelectorAll('#messages .entry .text')].some(e => e.textContent.includes('filler line 17'))",
        json!([]),
    );
    app.close();

    // Redis forgets everything; the device does not.
    let _: () = redis::cmd("FLUSHALL").query(&mut server.raw()).unwrap();

    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "connected again",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    // Ctrl+Shift+F (WebDriver: U+E009 Control, U+E008 Shift).
    app.type_into("#compose", "\u{E009}\u{E008}f\u{E008}\u{E009}");
    app.wait_for(
        "the search box",
        "return !document.querySelector('#search').hidden && document.activeElement.id === 'search-input'",
        json!([]),
    );
    app.type_into("#search-input", "pelican from:bob");
    app.wait_for(
        "the hit, highlighted",
        "const li = document.querySelector('#search-results li.search-hit'); return !!li && li.querySelector('mark.hit')?.textContent.toLowerCase() === 'pelican'",
        json!([]),
    );
    app.click("#search-results li.search-hit");
    app.wait_for(
        "the message in context",
        "const f = document.querySelector('#messages .entry.found'); return !!f && f.textContent.includes('pelican') && document.querySelector('#conversation-title').textContent.includes('bob')",
        json!([]),
    );
    // Its neighbours are there too, from the store.
    let around = app.execute(
        "return [...document.querySelectorAll('#messages .entry .text')].map(e => e.textContent)",
        json!([]),
    );
    let texts: Vec<String> = serde_json::from_value(around).unwrap();
    assert!(
        texts.iter().any(|t| t.contains("filler line 7")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("filler line 9")),
        "{texts:?}"
    );
    app.close();
}
