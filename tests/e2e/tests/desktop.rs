//! The desktop around the real window (a module of the one e2e binary), each test on its own
//! private D-Bus session: notifications observed as `org.freedesktop.Notifications.Notify`
//! calls, a second launch, the password in a real Secret Service (gnome-keyring), the window's
//! remembered size, and a log that never holds message text or secrets.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redchat_core::testing::RedisServer;
use redchat_e2e::desktop::{
    DbusSession, Keyring, NotificationServer, OtherWindow, TrayHost, focus_redchat,
};
use redchat_e2e::{AppUnderTest, DataHome, WAIT, app_binary, cli_binary};
use serde_json::json;

/// `sender` sends `line` (`@alice …`) from the CLI.
fn cli_send(server: &RedisServer, home: &DataHome, sender: &str, line: &str) {
    let status = Command::new(cli_binary())
        .args(["--url", &format!("redis://127.0.0.1:{}", server.port())])
        .args(["send", "--user", sender, line])
        .env("REDCHAT_DATA_DIR", home.0.join(format!("cli-{sender}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("redchat-cli");
    assert!(status.success(), "{sender} could not send");
}

fn wait_message(app: &AppUnderTest, text: &str) {
    app.wait_for(
        "the message in the window",
        "return [...document.querySelectorAll('#messages .entry .text')].some(e => e.textContent.includes(arguments[0]))",
        json!([text]),
    );
}

fn wait_focus(app: &AppUnderTest, focused: bool) {
    app.wait_for(
        if focused {
            "the window focused"
        } else {
            "the window unfocused"
        },
        "return document.hasFocus() === arguments[0]",
        json!([focused]),
    );
}

#[test]
fn notifications_reach_the_desktop_only_unfocused_unmuted_and_as_plain_text() {
    let server = RedisServer::start();
    let bus = DbusSession::start();
    let desktop = NotificationServer::start(&bus);
    let home = DataHome::new("notify");
    let app = AppUnderTest::start_with_env(&home.0, &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)]);
    app.connect_as(&format!("redis://127.0.0.1:{}", server.port()), "alice");
    let other = OtherWindow::open();

    // Away from the window: a stranger's first message is a request, notified without its text.
    other.focus();
    wait_focus(&app, false);
    cli_send(&server, &home, "bob", "@alice hi, it's bob");
    let seen = desktop.wait_for(1, WAIT);
    assert_eq!(seen[0].summary, "Message request from bob", "{seen:?}");
    assert!(!seen[0].body.contains("it's bob"), "{seen:?}");

    // Accepted, his messages notify with their text, as plain text: the server reads markup,
    // so it is escaped.
    app.click("button[data-accept='@bob']");
    app.wait_for(
        "bob a contact",
        "return !!document.querySelector(\"#conversations li[data-conversation='@bob']\")",
        json!([]),
    );
    cli_send(&server, &home, "bob", "@alice <b>lunch</b> at noon?");
    let seen = desktop.wait_for(2, WAIT);
    assert_eq!(seen[1].summary, "bob", "{seen:?}");
    assert_eq!(seen[1].body, "@alice &lt;b&gt;lunch&lt;/b&gt; at noon?");

    // Muted: bob's next message arrives in the window but not on the desktop; carol's does.
    app.click("#conversations li[data-conversation='@bob']");
    app.click("#mute-conversation");
    app.wait_for(
        "muted",
        "return document.querySelector('#mute-conversation').getAttribute('aria-pressed') === 'true'",
        json!([]),
    );
    cli_send(&server, &home, "bob", "@alice muted line");
    wait_message(&app, "muted line");
    cli_send(&server, &home, "carol", "@alice from carol");
    let seen = desktop.wait_for(3, WAIT);
    assert_eq!(seen[2].summary, "Message request from carol", "{seen:?}");
    assert!(
        seen.iter().all(|n| !n.body.contains("muted line")),
        "{seen:?}"
    );

    // Focused: dave's message is seen in the window and never notified; erin's, once the
    // window is left again, is.
    focus_redchat();
    wait_focus(&app, true);
    cli_send(&server, &home, "dave", "@alice while you look");
    app.wait_for(
        "dave's request",
        "return !!document.querySelector(\"#requests li[data-conversation='@dave']\")",
        json!([]),
    );
    other.focus();
    wait_focus(&app, false);
    cli_send(&server, &home, "erin", "@alice after you left");
    let seen = desktop.wait_for(4, WAIT);
    assert_eq!(seen[3].summary, "Message request from erin", "{seen:?}");
    assert!(seen.iter().all(|n| !n.summary.contains("dave")), "{seen:?}");

    // Do not disturb: frank's message arrives, but not on the desktop; after it, gina's does.
    app.click("#dnd");
    app.wait_for(
        "do not disturb on",
        "return document.querySelector('#dnd').getAttribute('aria-pressed') === 'true'",
        json!([]),
    );
    cli_send(&server, &home, "frank", "@alice during dnd");
    app.wait_for(
        "frank's request",
        "return !!document.querySelector(\"#requests li[data-conversation='@frank']\")",
        json!([]),
    );
    app.click("#dnd");
    cli_send(&server, &home, "gina", "@alice after dnd");
    let seen = desktop.wait_for(5, WAIT);
    assert_eq!(seen[4].summary, "Message request from gina", "{seen:?}");
    assert!(
        seen.iter().all(|n| !n.summary.contains("frank")),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 5, "{seen:?}");

    // Clicking gina's notification brings the window forward with her conversation open.
    assert!(
        seen[4].actions.iter().any(|a| a == "default"),
        "a click is asked for: {seen:?}"
    );
    desktop.click(&seen[4]);
    wait_focus(&app, true);
    app.wait_for(
        "gina's conversation open",
        "return document.querySelector('#conversation-title').textContent === '@gina'",
        json!([]),
    );
    app.close();

    // The log says notifications were shown, never what they said.
    let log = std::fs::read_to_string(home.0.join("dev.redchat.desktop/logs/redchat.log"))
        .expect("the log file");
    assert!(log.contains("notification shown"), "{log}");
    for secret_text in ["lunch", "muted line", "from carol", "after you left"] {
        assert!(!log.contains(secret_text), "message text in the log: {log}");
    }
}

#[test]
fn a_second_launch_brings_the_running_window_forward_and_exits() {
    let bus = DbusSession::start();
    let home = DataHome::new("single");
    let app = AppUnderTest::start_with_env(&home.0, &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)]);
    app.wait_for(
        "the page",
        "return !!document.querySelector('#status')",
        json!([]),
    );
    let other = OtherWindow::open();
    other.focus();
    wait_focus(&app, false);
    let mut second = Command::new(app_binary())
        .env("XDG_DATA_HOME", &home.0)
        .env("XDG_CONFIG_HOME", home.0.join("config"))
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a second Redchat");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = second.try_wait().expect("second launch") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second launch kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the second launch exits cleanly: {status}"
    );
    wait_focus(&app, true);
    app.close();
    let log = std::fs::read_to_string(home.0.join("dev.redchat.desktop/logs/redchat.log"))
        .expect("the log file");
    assert!(log.contains("another launch of Redchat"), "{log}");
}

#[test]
fn the_password_is_kept_in_a_real_secret_service_across_a_restart() {
    const PASSWORD: &str = "kept-in-the-keyring-7f3a";
    let server = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let bus = DbusSession::start();
    let home = DataHome::new("keyring");
    let _keyring = Keyring::start(&bus, &home.0.join("keyring-home"));
    let env = [("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())];
    let connection = format!("redis://127.0.0.1:{}", server.port());

    let app = AppUnderTest::start_with_env(&home.0, &env);
    app.wait_for(
        "the settings form",
        "const o = document.querySelector('.overlay'); return !!o && !o.hidden",
        json!([]),
    );
    app.type_into("#connection", &connection);
    app.type_into("#username", "alice");
    app.type_into("#password", PASSWORD);
    app.click("#connect");
    app.wait_for(
        "connected status",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    app.close();
    // Gone (its single-instance name released), or the restart would hand over to it.
    bus.wait_released("dev.redchat.desktop.SingleInstance", WAIT);

    // Nothing Redchat wrote holds the password (the keyring's own files are elsewhere).
    let settings = std::fs::read_to_string(home.0.join("dev.redchat.desktop/settings.json"))
        .expect("settings.json");
    assert!(!settings.contains(PASSWORD), "{settings}");
    let written: Vec<_> = home
        .files_containing(PASSWORD)
        .into_iter()
        .filter(|p| !p.starts_with(home.0.join("keyring-home")))
        .collect();
    assert!(written.is_empty(), "the password on disk: {written:?}");

    // Restart: straight to connected, the password read back from the keychain.
    let app = AppUnderTest::start_with_env(&home.0, &env);
    app.wait_for(
        "connected with the password from the keychain",
        "return document.querySelector('#status').dataset.phase === 'connected'",
        json!([]),
    );
    assert_eq!(
        app.execute(
            "return document.querySelector('.overlay').hidden",
            json!([])
        ),
        json!(true),
        "no password asked for"
    );
    app.close();
}

#[test]
fn the_window_keeps_its_size_across_a_restart() {
    let home = DataHome::new("window");
    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "the page",
        "return !!document.querySelector('#status')",
        json!([]),
    );
    app.set_window_rect(60, 40, 900, 620);
    let state = home.0.join("config/dev.redchat.desktop/.window-state.json");
    let deadline = Instant::now() + WAIT;
    let saved = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s)
            .is_ok_and(|v| v["main"]["width"] == json!(900) && v["main"]["height"] == json!(620))
    };
    while !std::fs::read_to_string(&state).is_ok_and(|s| saved(&s)) {
        assert!(Instant::now() < deadline, "the window's size was not saved");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.close();

    let app = AppUnderTest::start(&home.0);
    app.wait_for(
        "the page",
        "return !!document.querySelector('#status')",
        json!([]),
    );
    let (_, _, width, height) = app.window_rect();
    assert_eq!((width, height), (900, 620));
    app.close();
}

#[test]
fn links_open_in_the_system_browser_and_other_schemes_stay_text() {
    let server = RedisServer::start();
    let home = DataHome::new("links");
    // The "system browser": an xdg-open that writes down what it was asked to open.
    let bin = home.0.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let opened = home.0.join("opened.txt");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n",
            opened.display()
        ),
    )
    .expect("fake xdg-open");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let app = AppUnderTest::start_with_env(&home.0, &[("PATH", &path)]);
    app.connect_as(&format!("redis://127.0.0.1:{}", server.port()), "alice");
    cli_send(
        &server,
        &home,
        "bob",
        "@alice docs: https://example.com/guide?a=1. Not javascript:alert(1) and `code <b>`",
    );
    app.click("#requests li[data-conversation='@bob']");
    app.wait_for(
        "the link",
        "return !!document.querySelector('#messages a.link')",
        json!([]),
    );
    // The address is what the link shows; the other scheme and the markup stay text.
    assert_eq!(
        app.execute(
            "return [...document.querySelectorAll('#messages a.link')].map(a => a.textContent)",
            json!([])
        ),
        json!(["https://example.com/guide?a=1"])
    );
    assert_eq!(
        app.text("#messages code.inline-code"),
        "code <b>",
        "code is shown as text"
    );
    assert_eq!(
        app.execute(
            "return document.querySelectorAll('#messages .text b').length",
            json!([])
        ),
        json!(0)
    );
    app.click("#messages a.link");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&opened)
        .is_ok_and(|s| s.contains("https://example.com/guide?a=1"))
    {
        assert!(
            Instant::now() < deadline,
            "the browser was not asked to open the link"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The window itself did not navigate away, even when told to (as WebKit's "Open Link"
    // menu would): the refusal is logged and the page is still Redchat's.
    assert!(
        app.text("#status").starts_with("Connected"),
        "{}",
        app.text("#status")
    );
    app.execute("location.href = 'https://example.com/guide'", json!([]));
    let log = home.0.join("dev.redchat.desktop/logs/redchat.log");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&log)
        .is_ok_and(|s| s.contains("navigate to another page: refused"))
    {
        assert!(Instant::now() < deadline, "the navigation was not refused");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        app.text("#status").starts_with("Connected"),
        "{}",
        app.text("#status")
    );
    app.close();
}

#[test]
fn the_theme_follows_the_system_until_the_user_picks_one() {
    let home = DataHome::new("theme");
    // A dark desktop: GTK's dark Adwaita is what WebKitGTK reads prefers-color-scheme from.
    let app = AppUnderTest::start_with_env(&home.0, &[("GTK_THEME", "Adwaita:dark")]);
    app.wait_for(
        "the page",
        "return !!document.querySelector('#theme')",
        json!([]),
    );
    let background = "return getComputedStyle(document.documentElement).backgroundColor";
    let luminance = |app: &AppUnderTest| -> f64 {
        let css = app.execute(background, json!([]));
        let nums: Vec<f64> = css
            .as_str()
            .unwrap_or_default()
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .take(3)
            .map(|s| s.parse().unwrap_or(0.0))
            .collect();
        nums.iter().sum::<f64>() / 3.0
    };
    assert_eq!(
        app.execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            json!([])
        ),
        json!(true),
        "the window sees the dark desktop"
    );
    assert!(luminance(&app) < 80.0, "dark background expected");
    // The override: Light, from Settings, at once and after a restart.
    app.execute(
        "const s = document.querySelector('#theme'); s.value = 'light'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    assert!(luminance(&app) > 200.0, "light background expected");
    app.close();
    let app = AppUnderTest::start_with_env(&home.0, &[("GTK_THEME", "Adwaita:dark")]);
    app.wait_for(
        "the page",
        "return !!document.querySelector('#theme')",
        json!([]),
    );
    // Kept by the shell too (WebKit writes localStorage lazily; the app is killed here).
    let deadline = Instant::now() + WAIT;
    while luminance(&app) <= 200.0 {
        assert!(Instant::now() < deadline, "the choice is kept");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.close();
}

#[test]
fn ctrl_k_switches_conversations_from_the_keyboard() {
    let server = RedisServer::start();
    let home = DataHome::new("keys");
    let app = AppUnderTest::start(&home.0);
    app.connect_as(&format!("redis://127.0.0.1:{}", server.port()), "alice");
    app.type_and_enter("#new-conversation", "#team");
    app.type_and_enter("#new-conversation", "#ops");
    app.wait_for(
        "#ops open",
        "return document.querySelector('#conversation-title').textContent === '#ops'",
        json!([]),
    );
    // Ctrl+K (WebDriver's Control key is U+E009), then the name and Enter.
    app.type_into("#compose", "\u{E009}k\u{E009}");
    app.wait_for(
        "the switcher",
        "return !document.querySelector('#switcher').hidden && document.activeElement.id === 'switcher-input'",
        json!([]),
    );
    app.type_and_enter("#switcher-input", "tea");
    app.wait_for(
        "#team open",
        "return document.querySelector('#conversation-title').textContent === '#team' && document.querySelector('#switcher').hidden",
        json!([]),
    );
    // Alt+↓ / Alt+↑ (U+E00A is Alt, U+E015 ↓, U+E013 ↑) walk the sidebar.
    let before = app.text("#conversation-title");
    app.type_into("#compose", "\u{E00A}\u{E015}\u{E00A}");
    app.wait_for(
        "another conversation",
        "return document.querySelector('#conversation-title').textContent !== arguments[0]",
        json!([before]),
    );
    app.type_into("#compose", "\u{E00A}\u{E013}\u{E00A}");
    app.wait_for(
        "back",
        "return document.querySelector('#conversation-title').textContent === arguments[0]",
        json!([before]),
    );
    app.close();
}

#[test]
fn the_tray_shows_the_unread_count_and_its_menu_toggles_do_not_disturb() {
    let server = RedisServer::start();
    let bus = DbusSession::start();
    let host = TrayHost::start(&bus);
    let home = DataHome::new("tray");
    let app = AppUnderTest::start_with_env(&home.0, &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)]);
    app.connect_as(&format!("redis://127.0.0.1:{}", server.port()), "alice");
    let item = host.wait_item(WAIT);
    let labels: Vec<String> = host.menu(&item).into_iter().map(|(_, l)| l).collect();
    assert!(
        labels.iter().any(|l| l.contains("Open Redchat"))
            && labels.iter().any(|l| l.contains("Do not disturb"))
            && labels.iter().any(|l| l.contains("Quit")),
        "{labels:?}"
    );

    // Unread while away: the count beside the icon, as in the window title. (alice writes
    // first, so bob's answers are a conversation, not a request.)
    app.type_and_enter("#compose", "@bob are you there?");
    app.wait_for(
        "sent",
        "return !!document.querySelector(\"#messages .entry.mine\")",
        json!([]),
    );
    let other = OtherWindow::open();
    other.focus();
    wait_focus(&app, false);
    cli_send(&server, &home, "bob", "@alice one");
    cli_send(&server, &home, "bob", "@alice two");
    app.wait_for(
        "the title's count",
        "return document.title === '(2) Redchat'",
        json!([]),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let label = host.property(&item, "XAyatanaLabel");
        if <&str>::try_from(&label).is_ok_and(|l| l == "2") {
            break;
        }
        assert!(Instant::now() < deadline, "tray label: {label:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Do not disturb from the tray: the window's toggle follows, both ways.
    host.click(&item, "Do not disturb");
    app.wait_for(
        "do not disturb on in the window",
        "return document.querySelector('#dnd').getAttribute('aria-pressed') === 'true'",
        json!([]),
    );
    host.click(&item, "Do not disturb");
    app.wait_for(
        "do not disturb off in the window",
        "return document.querySelector('#dnd').getAttribute('aria-pressed') === 'false'",
        json!([]),
    );
    // Open: the window comes forward.
    host.click(&item, "Open Redchat");
    wait_focus(&app, true);
    app.close();
}
