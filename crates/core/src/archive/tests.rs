use std::time::Duration;

use chrono::FixedOffset;

use super::*;

fn temp_dir(what: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("redchat-archive-{what}-{}", crate::wire::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn message(conversation: &str, id: &str, sender: &str, content: &str, at: i64) -> ChatMessage {
    let conversation = ConversationId::parse(conversation).unwrap();
    ChatMessage {
        id: id.into(),
        room: conversation.room().map(|r| r.as_str().to_string()),
        to: conversation.peer().map(|_| "me".to_string()),
        conversation,
        sender: sender.into(),
        content: content.into(),
        sent_at: Some(
            chrono::DateTime::from_timestamp_millis(at)
                .unwrap()
                .to_rfc3339(),
        ),
        received_at: chrono::DateTime::from_timestamp_millis(at + 5)
            .unwrap()
            .to_rfc3339(),
        at,
        channel: "c".into(),
        legacy: false,
        durable: true,
        mine: false,
        mentions_me: false,
        trust: Trust::Signed,
        request: false,
        sender_issue: None,
        lookalike: None,
        signature: None,
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

fn search(archive: &Archive, text: &str) -> Vec<String> {
    let q = Query::parse(text, utc()).unwrap();
    archive
        .search(&q, 50)
        .unwrap()
        .hits
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn flushed(archive: &Archive) {
    assert!(archive.flush(Duration::from_secs(10)));
}

#[test]
fn stores_once_pages_back_and_survives_a_reopen() {
    let dir = temp_dir("pages");
    let archive = Archive::open(&dir);
    assert!(archive.is_available());
    for i in 0..25 {
        archive.record(&message(
            "@bob",
            &format!("m{i:02}"),
            "bob",
            &format!("hello {i}"),
            1_000 + i,
        ));
    }
    // The same message again (a live copy, a history page) is not stored twice.
    archive.record(&message("@bob", "m03", "bob", "hello 3 again", 1_003));
    archive.record(&message("#team", "t1", "carol", "in a room", 1_010));
    flushed(&archive);
    assert_eq!(archive.count().unwrap(), 26);
    drop(archive);

    let archive = Archive::open(&dir);
    let bob = ConversationId::parse("@bob").unwrap();
    let page = archive.page(Some(&bob), None, 10).unwrap();
    let ids: Vec<_> = page.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "m15", "m16", "m17", "m18", "m19", "m20", "m21", "m22", "m23", "m24"
        ]
    );
    let next = archive.page(Some(&bob), page.older, 10).unwrap();
    assert_eq!(next.messages.first().unwrap().id, "m05");
    let last = archive.page(Some(&bob), next.older, 10).unwrap();
    assert_eq!(last.messages.len(), 5);
    assert_eq!(last.older, None, "the end: no older page");
    assert_eq!(
        last.messages[3].content, "hello 3",
        "the first copy is kept"
    );
    // No conversation: every direct conversation, rooms left out.
    let all = archive.page(None, None, 100).unwrap();
    assert_eq!(all.messages.len(), 25);
    // A bound given as a time alone: strictly older.
    let older = archive.page(Some(&bob), Bound::parse("1010"), 100).unwrap();
    assert_eq!(older.messages.len(), 10);
    // What was stored comes back as it was.
    let back = &archive.page(Some(&bob), None, 1).unwrap().messages[0];
    assert_eq!(back, &message("@bob", "m24", "bob", "hello 24", 1_024));
}

#[test]
fn search_filters_and_context() {
    let dir = temp_dir("search");
    let archive = Archive::open(&dir);
    let day = 1_796_083_200_000; // 2026-12-01T00:00Z
    archive.record(&message(
        "#team",
        "a",
        "Alice",
        "the deployment went fine",
        day - 3_600_000,
    ));
    archive.record(&message(
        "#team",
        "b",
        "bob",
        "deploy again tomorrow",
        day + 3_600_000,
    ));
    archive.record(&message(
        "@bob",
        "c",
        "bob",
        "Café au lait after the deploy",
        day + 7_200_000,
    ));
    archive.record(&message("@carol", "d", "carol", "nothing to see", day + 1));
    flushed(&archive);
    assert_eq!(
        search(&archive, "deploy"),
        ["c", "b", "a"],
        "newest first, prefix of the last word"
    );
    assert_eq!(search(&archive, "deploy again"), ["b"]);
    assert_eq!(search(&archive, "cafe"), ["c"], "diacritics are folded");
    assert_eq!(search(&archive, "deploy from:alice"), ["a"]);
    assert_eq!(search(&archive, "deploy in:#team"), ["b", "a"]);
    assert_eq!(search(&archive, "deploy in:bob"), ["c"]);
    assert_eq!(search(&archive, "deploy before:2026-12-01"), ["a"]);
    assert_eq!(search(&archive, "deploy after:2026-11-30"), ["c", "b"]);
    assert_eq!(
        search(&archive, "from:carol"),
        ["d"],
        "filters alone list messages"
    );
    let found = archive
        .search(&Query::parse("deploy", utc()).unwrap(), 2)
        .unwrap();
    assert!(found.more);
    assert_eq!(found.words, ["deploy"]);

    let team = ConversationId::parse("#team").unwrap();
    for i in 0..10 {
        archive.record(&message(
            "#team",
            &format!("n{i}"),
            "bob",
            "later",
            day + 10_000_000 + i,
        ));
    }
    flushed(&archive);
    let context = archive.context(&team, "b", 5, 3).unwrap();
    let ids: Vec<_> = context.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "n0", "n1"]);
    assert!(context.newer);
    assert_eq!(context.older, None);
    assert!(archive.context(&team, "nope", 5, 5).is_err());
}

#[test]
fn hostile_query_text_searches_as_typed() {
    let dir = temp_dir("hostile");
    let archive = Archive::open(&dir);
    archive.record(&message(
        "@bob",
        "x",
        "bob",
        "call foo(bar) at 5* \"quoted\" OR NEAR",
        1,
    ));
    archive.record(&message("@bob", "y", "bob", "unrelated", 2));
    flushed(&archive);
    // FTS5 syntax in the query is text: no error, and it finds the message that has the words.
    for text in [
        "foo(bar)",
        "\"quoted\"",
        "5*",
        "OR",
        "NEAR",
        "foo OR",
        "call:foo",
        "foo)) OR ((",
        "{foo}",
        "^foo",
        "-foo",
    ] {
        let hits = search(&archive, text);
        assert_eq!(hits, ["x"], "{text}");
    }
    assert!(search(&archive, "NOT").is_empty());
}

#[test]
fn a_corrupt_database_file_is_moved_aside_and_rebuilt() {
    let dir = temp_dir("corrupt");
    std::fs::write(
        dir.join(FILE),
        b"this is not a database, it is garbage ".repeat(200),
    )
    .unwrap();
    let archive = Archive::open(&dir);
    assert!(archive.is_available());
    let notices = archive.take_notices();
    assert!(notices.iter().any(|n| n.contains("damaged")), "{notices:?}");
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("damaged"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept for the user");
    archive.record(&message("@bob", "a", "bob", "fresh start", 1));
    flushed(&archive);
    assert_eq!(search(&archive, "fresh"), ["a"]);
}

#[test]
fn a_database_damaged_while_open_is_rebuilt_on_the_next_write() {
    let dir = temp_dir("damaged-later");
    let archive = Archive::open(&dir);
    for i in 0..2_000 {
        archive.record(&message(
            "@bob",
            &format!("m{i}"),
            "bob",
            &"lorem ipsum ".repeat(20),
            i,
        ));
    }
    flushed(&archive);
    let side = Connection::open(dir.join(FILE)).unwrap();
    side.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(side);
    drop(archive);
    // Overwrite the middle of the file (its pages), keeping the header.
    let path = dir.join(FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024);
    for b in &mut bytes[8 * 1024..] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.join(format!("{FILE}-wal")));
    let archive = Archive::open(&dir);
    archive.take_notices();
    archive.record(&message("@bob", "new", "bob", "after the damage", 5_000));
    flushed(&archive);
    let notices = archive.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("damaged")),
        "the damage is found and said: {notices:?}"
    );
    assert_eq!(search(&archive, "damage"), ["new"], "the new store works");
}

#[cfg(unix)]
#[test]
fn a_read_only_data_directory_keeps_going_without_the_store() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("readonly");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root ignores permissions: then make the path unusable another way (a file as parent).
    let dir = if std::fs::write(dir.join("probe"), b"x").is_ok() {
        let file = dir.join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        file
    } else {
        dir
    };
    let archive = Archive::open(&dir);
    assert!(!archive.is_available());
    let notices = archive.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("cannot be used")),
        "{notices:?}"
    );
    archive.record(&message("@bob", "a", "bob", "not stored", 1));
    assert!(archive.flush(Duration::from_secs(1)));
    let err = archive.page(None, None, 10).unwrap_err();
    assert!(err.to_string().contains("cannot be used"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_database_files_are_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let archive = Archive::open(&dir);
    archive.record(&message("@bob", "a", "bob", "private", 1));
    flushed(&archive);
    for name in [
        FILE.to_string(),
        format!("{FILE}-wal"),
        format!("{FILE}-shm"),
    ] {
        let mode = std::fs::metadata(dir.join(&name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name}: {mode:o}");
    }
}

#[test]
fn export_round_trips_in_json_and_csv() {
    let dir = temp_dir("export");
    let archive = Archive::open(&dir);
    let mut tricky = message("#team", "q", "mallory", "=HYPERLINK(\"http://evil\")", 3);
    tricky.trust = Trust::Invalid;
    let rows = [
        message("@bob", "a", "bob", "hello, \"world\"\nsecond line", 1),
        message("@bob", "b", "bob", "  padded  ", 2),
        tricky,
    ];
    for m in &rows {
        archive.record(m);
    }
    flushed(&archive);

    let mut json = Vec::new();
    assert_eq!(archive.export(None, Format::Json, &mut json).unwrap(), 3);
    let parsed: Vec<serde_json::Value> = String::from_utf8(json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0]["conversation"], "#team");
    assert_eq!(parsed[0]["trust"], "invalid");
    assert_eq!(parsed[1]["content"], "hello, \"world\"\nsecond line");
    assert_eq!(parsed[1]["sender"], "bob");
    assert_eq!(parsed[1]["to"], "me");
    assert!(parsed[1]["sentAt"].is_string() && parsed[1]["receivedAt"].is_string());

    let mut csv_bytes = Vec::new();
    archive
        .export(
            Some(&ConversationId::parse("@bob").unwrap()),
            Format::Csv,
            &mut csv_bytes,
        )
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.join(","), export::CSV_HEADER);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0][10], "hello, \"world\"\nsecond line");
    assert_eq!(&records[1][10], "  padded  ");
    assert_eq!(&records[0][7], "signed");
}

#[test]
fn csv_export_neutralises_spreadsheet_formulas() {
    let dir = temp_dir("formula");
    let archive = Archive::open(&dir);
    for (i, text) in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx"]
        .iter()
        .enumerate()
    {
        archive.record(&message("@bob", &format!("f{i}"), "bob", text, i as i64));
    }
    flushed(&archive);
    let mut out = Vec::new();
    archive.export(None, Format::Csv, &mut out).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    for record in reader.records() {
        let content = record.unwrap()[10].to_string();
        assert!(
            content.starts_with('\''),
            "{content:?} would run as a formula"
        );
    }
}

#[test]
fn markdown_export_escapes_hostile_markup() {
    let dir = temp_dir("markdown");
    let archive = Archive::open(&dir);
    archive.record(&message(
        "@bob",
        "a",
        "bob",
        "[click](http://evil) ![x](http://evil/p.png) <script>alert(1)</script>\n# heading \u{202e}",
        1,
    ));
    flushed(&archive);
    let mut out = Vec::new();
    archive.export(None, Format::Markdown, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(md.starts_with("# Redchat export"));
    assert!(md.contains("## \\@bob"));
    assert!(md.contains("\\[click\\]\\(http\\:\\/\\/evil\\)"), "{md}");
    assert!(md.contains("\\<script\\>"), "{md}");
    assert!(
        md.contains("  \\# heading"),
        "a line of the message never starts a heading: {md}"
    );
    assert!(!md.contains('\u{202e}'));
    assert!(!md.contains("](http"));
}
