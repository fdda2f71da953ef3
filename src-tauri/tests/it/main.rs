//! Shell tests: the real commands through Tauri's IPC (mock runtime, no webview), against a
//! real redis-server.

use std::sync::Arc;

use redchat_core::testing::RedisServer;
use redchat_lib::profile::MemoryStore;
use redchat_lib::secrets::MemoryKeychain;
use redchat_lib::{AppState, Secrets};
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;

struct App {
    _app: tauri::App<tauri::test::MockRuntime>,
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    profile: Arc<MemoryStore>,
    keychain: Arc<MemoryKeychain>,
}

fn app_with(keychain: MemoryKeychain) -> App {
    app_in(keychain, None)
}

fn app_in(keychain: MemoryKeychain, data_dir: Option<std::path::PathBuf>) -> App {
    let profile = Arc::new(MemoryStore::default());
    let keychain = Arc::new(keychain);
    let state = AppState::new(
        Box::new(profile.clone()),
        Secrets::new(Box::new(keychain.clone())),
        data_dir,
    );
    let app = redchat_lib::configure(mock_builder(), state)
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("mock window");
    App {
        _app: app,
        webview,
        profile,
        keychain,
    }
}

fn invoke(app: &App, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        // On Linux the mock runtime only accepts this origin (PITFALLS).
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(&app.webview, request)
        .map(|body| body.deserialize::<Value>().expect("JSON response"))
}

#[test]
fn check_connection_reports_parts_and_errors_as_code_and_message() {
    let app = app_with(MemoryKeychain::default());
    let ok = invoke(&app, "check_connection", json!({"connection": "x.redis.cache.windows.net:6380,password=k==,ssl=True,abortConnect=False,foo=1"})).unwrap();
    assert_eq!(ok["addr"], "x.redis.cache.windows.net:6380");
    assert_eq!(ok["tls"], true);
    assert_eq!(ok["hasPassword"], true);
    assert_eq!(ok["notes"][0], "ignored option \"foo\"");
    assert!(
        ok.get("password").is_none(),
        "the password never goes back to the page"
    );

    let err = invoke(
        &app,
        "check_connection",
        json!({"connection": "redis://h:99999"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_settings", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("at character 11"),
        "{err}"
    );
}

#[test]
fn connect_send_and_errors_cross_as_codes() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret=+/"]);
    let app = app_with(MemoryKeychain::default());
    let connection = format!("127.0.0.1:{},password=s3cret=+/", server.port());

    let err = invoke(
        &app,
        "send",
        json!({"conversation": null, "text": "@bob hi"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");

    let err = invoke(&app, "connect", json!({"request": {"connection": connection, "username": "bad name"}, "events": "__CHANNEL__:1"})).unwrap_err();
    assert_eq!(err["code"], "invalid_username", "{err}");

    let wrong = format!("127.0.0.1:{},password=nope", server.port());
    let err = invoke(
        &app,
        "connect",
        json!({"request": {"connection": wrong, "username": "alice"}, "events": "__CHANNEL__:1"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "auth", "{err}");

    let ok = invoke(&app, "connect", json!({"request": {"connection": connection, "username": " Alice "}, "events": "__CHANNEL__:2"})).unwrap();
    assert_eq!(ok["user"], "alice");
    assert_eq!(ok["inbox"], "alice");
    assert_eq!(ok["password"], "keychain");

    let saved = app.profile.saved().expect("profile saved on connect");
    assert_eq!(
        saved.connection,
        format!("127.0.0.1:{}", server.port()),
        "settings keep the form but never the password"
    );
    assert_eq!(saved.username, "alice");
    let account = format!("default@127.0.0.1:{}", server.port());
    assert_eq!(
        app.keychain.stored(&account).as_deref(),
        Some("s3cret=+/"),
        "the password goes to the keychain"
    );

    assert_eq!(ok["delivery"], "durable", "durable by default");
    assert_eq!(ok["online"], true);
    let queued = invoke(
        &app,
        "send",
        json!({"conversation": "nobody", "text": "hello?"}),
    )
    .unwrap();
    assert_eq!(
        queued["content"], "@nobody hello?",
        "queued and returned at once"
    );
    // Stored for later: history shows it once the outbox has sent it (no event channel in
    // this mock, so poll, bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = invoke(
            &app,
            "history",
            json!({"conversation": "@nobody", "before": null, "limit": 10}),
        )
        .unwrap();
        if page["messages"][0]["id"] == queued["id"] {
            assert_eq!(page["more"], Value::Null);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not in history: {page}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    invoke(&app, "retry_now", json!({})).unwrap();
    let err = invoke(&app, "retry_message", json!({"id": "no-such-id"})).unwrap_err();
    assert_eq!(err["code"], "invalid_message", "{err}");

    let err = invoke(
        &app,
        "send",
        json!({"conversation": null, "text": "no recipient"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_message", "{err}");
    let huge = "x".repeat(redchat_core::MAX_CONTENT_BYTES + 1);
    let err = invoke(&app, "send", json!({"conversation": "bob", "text": huge})).unwrap_err();
    assert_eq!(err["code"], "message_too_large", "{err}");

    // Next start: the saved profile and the keychain password are enough.
    let view = invoke(&app, "load_profile", json!({})).unwrap();
    assert_eq!(view["passwordSaved"], true);
    invoke(&app, "disconnect", json!({})).unwrap();
    let err = invoke(&app, "send", json!({"conversation": "bob", "text": "hi"})).unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");

    // The automatic connect at start-up keeps trying when the server is not there yet;
    // a connect from the form says at once.
    let nowhere = format!("127.0.0.1:{}", redchat_core::testing::free_port());
    let err = invoke(
        &app,
        "connect",
        json!({"request": {"connection": nowhere, "username": "alice"}, "events": "__CHANNEL__:3"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "unreachable", "{err}");
    let ok = invoke(&app, "connect", json!({"request": {"connection": nowhere, "username": "alice", "keepTrying": true, "delivery": "liveOnly"}, "events": "__CHANNEL__:4"})).unwrap();
    assert_eq!(ok["delivery"], "liveOnly");
    assert_eq!(ok["online"], false, "started, but the server is not there");
    let queued = invoke(
        &app,
        "send",
        json!({"conversation": "bob", "text": "later"}),
    )
    .unwrap();
    assert_eq!(
        queued["content"], "@bob later",
        "queued while the server is away"
    );
    invoke(&app, "disconnect", json!({})).unwrap();
}

#[test]
fn without_a_keychain_the_password_is_asked_for_and_never_stored() {
    let server = RedisServer::start_with(&["--requirepass", "pw"]);
    let app = app_with(MemoryKeychain::broken());
    let bare = format!("redis://127.0.0.1:{}", server.port());
    let err = invoke(
        &app,
        "connect",
        json!({"request": {"connection": bare, "username": "alice"}, "events": "__CHANNEL__:1"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "password_required", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("keychain"),
        "says why it cannot be remembered: {err}"
    );

    let ok = invoke(&app, "connect", json!({"request": {"connection": bare, "username": "alice", "password": "pw"}, "events": "__CHANNEL__:2"})).unwrap();
    assert_eq!(ok["password"], "sessionOnly");
    assert!(ok["keychainProblem"].is_string());
    assert_eq!(app.profile.saved().unwrap().connection, bare);
}

#[test]
fn rooms_presence_and_read_positions_go_through_the_commands() {
    let server = RedisServer::start();
    let app = app_with(MemoryKeychain::default());
    let url = server.url();
    invoke(&app, "connect", json!({"request": {"connection": url, "username": "alice", "sharePresence": true}, "events": "__CHANNEL__:1"})).unwrap();
    let err = invoke(&app, "join", json!({"name": "#two words"})).unwrap_err();
    assert_eq!(err["code"], "invalid_room", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("room name"),
        "{err}"
    );
    let joined = invoke(&app, "join", json!({"name": "#Team"})).unwrap();
    assert_eq!(joined, "#team", "the conversation id comes back normalised");
    let sent = invoke(
        &app,
        "send",
        json!({"conversation": "#team", "text": "hi all"}),
    )
    .unwrap();
    assert_eq!(sent["conversation"], "#team");
    assert_eq!(sent["room"], "team");
    assert_eq!(sent["content"], "hi all", "room messages carry no @prefix");
    let list = invoke(&app, "members", json!({"conversation": "#team"})).unwrap();
    assert_eq!(list["members"][0]["user"], "alice", "{list}");
    assert_eq!(list["unreadable"], 0);
    invoke(&app, "mark_read", json!({"conversation": "#team"})).unwrap();
    invoke(&app, "typing", json!({"conversation": "@bob"})).unwrap();
    // Presence is written by the session's beat: who lists alice once it has run (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let who = invoke(&app, "who", json!({})).unwrap();
        if who
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user"] == "alice" && m["online"] == true)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alice never showed online: {who}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    invoke(&app, "leave", json!({"conversation": "#team"})).unwrap();
    let err = invoke(&app, "members", json!({"conversation": "@bob"})).unwrap_err();
    assert_eq!(err["code"], "invalid_room");
    invoke(&app, "disconnect", json!({})).unwrap();
}

#[test]
fn an_identity_moves_to_another_computer_through_export_and_import() {
    let server = RedisServer::start();
    let url = server.url();
    let connect = |app: &App, channel: &str| {
        invoke(
            app,
            "connect",
            json!({"request": {"connection": url, "username": "alice"}, "events": channel}),
        )
        .unwrap();
    };
    let laptop = app_with(MemoryKeychain::default());
    connect(&laptop, "__CHANNEL__:1");
    let info = invoke(&laptop, "identity_info", json!({})).unwrap();
    assert_eq!(info["storage"]["kind"], "keychain", "{info}");
    let exported = invoke(&laptop, "export_identity", json!({})).unwrap();
    let text = exported.as_str().unwrap().to_string();
    assert!(text.starts_with("redchat-identity-v1:"));
    assert!(
        laptop
            .profile
            .saved()
            .is_none_or(|p| !format!("{p:?}").contains(&text)),
        "never in the settings"
    );

    let desktop = app_with(MemoryKeychain::default());
    connect(&desktop, "__CHANNEL__:1");
    let own = invoke(&desktop, "identity_info", json!({})).unwrap();
    assert_ne!(
        own["key"], info["key"],
        "a new computer starts with a key of its own"
    );
    let err = invoke(&desktop, "import_identity", json!({"text": "not a key"})).unwrap_err();
    assert_eq!(err["code"], "identity", "{err}");
    let imported = invoke(&desktop, "import_identity", json!({"text": text})).unwrap();
    assert_eq!(imported["key"], info["key"]);
    invoke(&desktop, "disconnect", json!({})).unwrap();
    connect(&desktop, "__CHANNEL__:2");
    let after = invoke(&desktop, "identity_info", json!({})).unwrap();
    assert_eq!(
        after["key"], info["key"],
        "after reconnecting it signs as the laptop"
    );
    invoke(&desktop, "disconnect", json!({})).unwrap();
    invoke(&laptop, "disconnect", json!({})).unwrap();
}

#[test]
fn a_password_over_plain_tcp_to_another_computer_is_acknowledged_once_per_server() {
    let app = app_with(MemoryKeychain::default());
    // TEST-NET: never reachable, and not this computer.
    let remote = "192.0.2.10:6379,password=pw,connectTimeout=300";
    let request = |allow: bool| json!({"request": {"connection": remote, "username": "alice", "allowPlainPassword": allow}, "events": "__CHANNEL__:1"});
    let err = invoke(&app, "connect", request(false)).unwrap_err();
    assert_eq!(err["code"], "plaintext_password", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("unencrypted"),
        "{err}"
    );
    assert!(
        app.profile.saved().is_none(),
        "nothing saved or sent before the user agrees"
    );
    let err = invoke(&app, "connect", request(true)).unwrap_err();
    assert_ne!(err["code"], "plaintext_password", "acknowledged: it tries");
    assert_eq!(
        app.profile.saved().unwrap().plain_password_ok,
        vec!["192.0.2.10:6379".to_string()]
    );
    let err = invoke(&app, "connect", request(false)).unwrap_err();
    assert_ne!(
        err["code"], "plaintext_password",
        "asked once per server: {err}"
    );
    // TLS, or this computer, is never asked about.
    let local = json!({"request": {"connection": "127.0.0.1:1,password=pw,connectTimeout=300", "username": "alice"}, "events": "__CHANNEL__:2"});
    assert_ne!(
        invoke(&app, "connect", local).unwrap_err()["code"],
        "plaintext_password"
    );
}

#[test]
fn the_doctor_reports_through_the_command_and_never_returns_the_password() {
    let server = RedisServer::start_with(&["--requirepass", "doctor-secret"]);
    let app = app_with(MemoryKeychain::default());
    let good = format!("redis://:doctor-secret@127.0.0.1:{}", server.port());
    let report = invoke(
        &app,
        "doctor",
        json!({"request": {"connection": good, "username": "alice"}}),
    )
    .unwrap();
    assert_eq!(report["problems"], json!([]), "{report:#}");
    assert_eq!(report["passwordSet"], true);
    assert!(
        report["text"]
            .as_str()
            .unwrap()
            .contains("No problems found.")
    );
    assert!(!report.to_string().contains("doctor-secret"), "{report}");
    let wrong = format!("redis://:nope@127.0.0.1:{}", server.port());
    let report = invoke(
        &app,
        "doctor",
        json!({"request": {"connection": wrong, "username": "alice"}}),
    )
    .unwrap();
    assert_eq!(report["problems"][0]["code"], "auth", "{report:#}");
    let garbage = invoke(
        &app,
        "doctor",
        json!({"request": {"connection": "redis://h:x", "username": "alice"}}),
    )
    .unwrap();
    assert_eq!(garbage["problems"][0]["code"], "invalid_settings");
}

#[test]
fn a_connect_request_prints_without_its_password() {
    let request: redchat_lib::state::ConnectRequest = serde_json::from_value(json!({
        "connection": "redis://h", "username": "alice", "password": "typed-secret-123"
    }))
    .unwrap();
    let shown = format!("{request:?}");
    assert!(!shown.contains("typed-secret-123"), "{shown}");
    let inline: redchat_lib::state::ConnectRequest = serde_json::from_value(json!({
        "connection": "rediss://:inline-secret-456@h:6380", "username": "alice"
    }))
    .unwrap();
    let shown = format!("{inline:?}");
    assert!(!shown.contains("inline-secret-456"), "{shown}");
}

#[test]
fn the_doctor_never_sends_a_password_over_plain_tcp_unacknowledged() {
    let app = app_with(MemoryKeychain::default());
    let report = invoke(
        &app,
        "doctor",
        json!({"request": {"connection": "192.0.2.10:6379,password=pw,connectTimeout=300", "username": "alice"}}),
    )
    .unwrap();
    assert_eq!(
        report["problems"][0]["code"], "plaintext_password",
        "{report:#}"
    );
    assert_eq!(report["connected"], false);
}

#[test]
fn search_context_and_export_go_through_the_commands() {
    let server = RedisServer::start();
    let dir = std::env::temp_dir().join(format!(
        "redchat-shell-store-{}",
        redchat_core::wire::new_id()
    ));
    let app = app_in(MemoryKeychain::default(), Some(dir.clone()));
    let err = invoke(
        &app,
        "search",
        json!({"query": "x", "conversation": null, "limit": 10, "offsetMinutes": 0}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");
    let connection = format!("127.0.0.1:{}", server.port());
    invoke(&app, "connect", json!({"request": {"connection": connection, "username": "alice"}, "events": "__CHANNEL__:1"})).unwrap();
    for text in ["first words", "the deploy went fine", "last words"] {
        invoke(&app, "send", json!({"conversation": "bob", "text": text})).unwrap();
    }
    // Sent messages are stored once Redis confirmed them: poll the search, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let found = invoke(&app, "search", json!({"query": "deploy in:@bob", "conversation": null, "limit": 10, "offsetMinutes": 60})).unwrap();
        if found["hits"].as_array().is_some_and(|h| !h.is_empty()) {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "not stored: {found}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(found["words"], json!(["deploy"]));
    let hit = &found["hits"][0];
    assert_eq!(hit["content"], "@bob the deploy went fine");
    assert_eq!(hit["mine"], true);
    let err = invoke(&app, "search", json!({"query": "deploy after:soon", "conversation": null, "limit": 10, "offsetMinutes": 0})).unwrap_err();
    assert_eq!(err["code"], "invalid_search", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("not a date"),
        "{err}"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let context = invoke(
            &app,
            "message_context",
            json!({"conversation": "@bob", "id": hit["id"]}),
        )
        .unwrap();
        if context["messages"].as_array().unwrap().len() == 3 {
            assert_eq!(context["newer"], false);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "context: {context}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = invoke(
        &app,
        "message_context",
        json!({"conversation": "@bob", "id": "nope"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_search", "{err}");

    // What export_messages does once the save dialog answered.
    use tauri::Manager;
    let state = app._app.state::<AppState>();
    let file = dir.join("export.jsonl");
    let count = tauri::async_runtime::block_on(state.export_to(
        Some("@bob".into()),
        "json".parse().unwrap(),
        file.clone(),
    ))
    .unwrap();
    assert_eq!(count, 3);
    let rows: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[1]["content"], "@bob the deploy went fine");
    assert_eq!(rows[1]["to"], "bob");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    invoke(&app, "disconnect", json!({})).unwrap();
}
