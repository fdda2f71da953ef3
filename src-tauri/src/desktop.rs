//! The desktop around the window: the tray icon and its menu, the taskbar badge, native
//! notifications, a second launch, the remembered window size, links opened in the browser.
//! Policy lives in [`crate::attention`]; this is the platform glue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};

use crate::attention::{self, Attention, Shown};
use crate::error::IpcError;

/// The tray icon's id.
pub const TRAY: &str = "main";
/// Menu item ids.
const OPEN: &str = "open";
const DND: &str = "dnd";
const QUIT: &str = "quit";

/// How long after the last move or resize the window's place is saved.
const SAVE_AFTER: Duration = Duration::from_millis(400);

/// The tray menu's do-not-disturb item, kept to mirror changes made elsewhere.
pub struct TrayParts<R: Runtime> {
    pub icon: TrayIcon<R>,
    pub dnd: CheckMenuItem<R>,
}

/// Brings the main window forward: shown, unminimised, focused.
pub fn bring_forward<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Called in the running app when Redchat is launched again: the new process exits and this
/// window comes forward.
pub fn second_launch<R: Runtime>(app: &AppHandle<R>) {
    tracing::info!("another launch of Redchat: bringing this window forward");
    bring_forward(app);
}

/// A click on a notification brings the window forward and opens its conversation.
pub fn on_notification_click<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_notification::NotificationExt;
    let handle = app.clone();
    let _ = app.notification().on_action(move |action| {
        if action.action_id() != "tap" {
            return;
        }
        tracing::info!("notification clicked");
        bring_forward(&handle);
        if let (Some(a), Some(n)) = (handle.try_state::<Attention>(), action.notification()) {
            a.clicked(n.id());
        }
    });
}

/// Builds the tray icon with its menu: Open, Do not disturb, Quit. Where the desktop shows no
/// tray (no StatusNotifier host) it is simply not seen; a failure is logged, never fatal.
pub fn tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayParts<R>> {
    let open = MenuItem::with_id(app, OPEN, "Open Redchat", true, None::<&str>)?;
    let dnd = CheckMenuItem::with_id(app, DND, "Do not disturb", true, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&open, &dnd, &PredefinedMenuItem::separator(app)?, &quit],
    )?;
    let mut builder = TrayIconBuilder::with_id(TRAY)
        .menu(&menu)
        .tooltip(attention::tray_tooltip(0, false))
        .on_menu_event(|app, event| match event.id().as_ref() {
            OPEN => bring_forward(app),
            DND => {
                if let Some(a) = app.try_state::<Attention>() {
                    let on = !a.do_not_disturb();
                    a.set_do_not_disturb(on);
                    sync_tray(app);
                }
            }
            QUIT => app.exit(0),
            _ => {}
        })
        // Windows habit: a left click opens the window, the menu is on the right button.
        // (macOS shows the menu on either; Linux panels always show the menu.)
        .show_menu_on_left_click(cfg!(target_os = "macos"))
        .on_tray_icon_event(|tray, event| {
            if let tauri::tray::TrayIconEvent::Click {
                button: tauri::tray::MouseButton::Left,
                button_state: tauri::tray::MouseButtonState::Up,
                ..
            } = event
                && cfg!(windows)
            {
                bring_forward(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    Ok(TrayParts { icon, dnd })
}

/// Makes the tray (tooltip, check mark) and the badge show the current state.
pub fn sync_tray<R: Runtime>(app: &AppHandle<R>) {
    let Some(a) = app.try_state::<Attention>() else {
        return;
    };
    let (unread, dnd) = (a.unread(), a.do_not_disturb());
    if let Some(parts) = app.try_state::<TrayParts<R>>() {
        let _ = parts.dnd.set_checked(dnd);
        // Windows and macOS show the tooltip; Linux panels (AppIndicator) have none, but show
        // a title beside the icon, as macOS's menu bar does: the count, when there is one.
        let _ = parts
            .icon
            .set_tooltip(Some(attention::tray_tooltip(unread, dnd)));
        let _ = parts
            .icon
            .set_title((unread > 0).then(|| unread.to_string()));
    }
}

/// Shows the unread total on the taskbar badge where the platform has one (macOS Dock,
/// Linux launchers that read the Unity count) and on the tray tooltip.
pub fn show_unread<R: Runtime>(window: &WebviewWindow<R>, total: u32) {
    let app = window.app_handle();
    if let Some(a) = app.try_state::<Attention>() {
        a.set_unread(total);
    }
    #[cfg(not(windows))]
    {
        let count = (total > 0).then_some(i64::from(total));
        if let Err(e) = window.set_badge_count(count) {
            tracing::debug!("no badge count here: {e}");
        }
    }
    sync_tray(app);
}

/// Shows a desktop notification unless the window has focus or do-not-disturb is on.
pub async fn notify<R: Runtime>(
    window: &WebviewWindow<R>,
    title: &str,
    body: &str,
    conversation: Option<&str>,
) -> Result<Shown, IpcError> {
    let app = window.app_handle().clone();
    if app
        .try_state::<Attention>()
        .is_some_and(|a| a.do_not_disturb())
    {
        return Ok(Shown::DoNotDisturb);
    }
    if window.is_focused().unwrap_or(false) {
        return Ok(Shown::Focused);
    }
    let id = app
        .try_state::<Attention>()
        .map_or(0, |a| a.remember(conversation));
    let title = attention::plain(title, attention::TITLE_MAX);
    let body = attention::plain(body, attention::BODY_MAX);
    // notify-rust talks D-Bus synchronously: off the async runtime.
    let shown = tauri::async_runtime::spawn_blocking(move || {
        use tauri_plugin_notification::NotificationExt;
        let body = if server_reads_markup() {
            attention::escape_markup(&body)
        } else {
            body
        };
        app.notification()
            .builder()
            .id(id)
            .title(title)
            .body(body)
            .show()
    })
    .await;
    match shown {
        Ok(Ok(())) => {
            tracing::info!("notification shown");
            Ok(Shown::Shown)
        }
        Ok(Err(e)) => {
            tracing::warn!("cannot show a notification: {e}");
            Ok(Shown::Failed)
        }
        Err(e) => {
            tracing::warn!("cannot show a notification: {e}");
            Ok(Shown::Failed)
        }
    }
}

/// Whether the notification server interprets markup in bodies (asked once per run).
#[cfg(all(unix, not(target_os = "macos")))]
fn server_reads_markup() -> bool {
    static MARKUP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MARKUP.get_or_init(|| {
        notify_rust::get_capabilities().is_ok_and(|c| c.iter().any(|c| c == "body-markup"))
    })
}

/// Windows toasts and macOS notifications take plain text.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn server_reads_markup() -> bool {
    false
}

/// Whether the window may show `url`: only Redchat's own page (the embedded assets, the dev
/// server in debug builds, the blank page of the footprint benchmark). Links from messages
/// open in the browser; nothing navigates the window away, whatever WebKit's own menu offers.
pub fn may_navigate(url: &tauri::Url) -> bool {
    match url.scheme() {
        "tauri" => true,
        "about" => url.path() == "blank",
        "http" | "https" => {
            let host = url.host_str().unwrap_or_default();
            // Windows and Android serve the assets from http(s)://tauri.localhost.
            host == "tauri.localhost"
                || (cfg!(debug_assertions) && host == "localhost" && url.port() == Some(5173))
        }
        _ => false,
    }
}

/// A plugin that holds the window to [`may_navigate`].
pub fn navigation_guard<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri::plugin::Builder::new("navigation-guard")
        .on_navigation(|_webview, url| {
            let allowed = may_navigate(url);
            if !allowed {
                tracing::warn!("the window was asked to navigate to another page: refused");
            }
            allowed
        })
        .build()
}

/// The link a message asks to open, if it may be opened: `http`, `https` and `mailto` only.
pub fn openable(link: &str) -> Result<tauri::Url, IpcError> {
    let refused = || {
        IpcError::new(
            redchat_core::Code::InvalidMessage,
            "only http, https and mailto links open from messages",
        )
    };
    let url = tauri::Url::parse(link.trim()).map_err(|_| refused())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "mailto" => Ok(mail_link(url)),
        _ => Err(refused()),
    }
}

/// A `mailto:` link with only the fields a mail client fills in (to, cc, subject, body): no
/// `attach=` or other client-specific field a stranger could slip in.
fn mail_link(mut url: tauri::Url) -> tauri::Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| ["to", "cc", "subject", "body"].contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    url
}

/// Opens `link` in the system browser (or mail client).
pub fn open_link<R: Runtime>(app: &AppHandle<R>, link: &str) -> Result<(), IpcError> {
    use tauri_plugin_opener::OpenerExt;
    let url = openable(link)?;
    app.opener()
        .open_url(url.as_str(), None::<&str>)
        .map_err(|e| {
            IpcError::new(
                redchat_core::Code::Internal,
                format!("cannot open the link: {e}"),
            )
        })
}

/// Saves the window's size and place shortly after it stops moving, so a crash or a kill
/// does not lose it (the plugin itself saves only on a clean exit).
pub fn save_place_soon<R: Runtime>(app: &AppHandle<R>) {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let mine = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SAVE_AFTER).await;
        if GENERATION.load(Ordering::SeqCst) == mine {
            use tauri_plugin_window_state::{AppHandleExt, StateFlags};
            if let Err(e) = app.save_window_state(StateFlags::all()) {
                tracing::debug!("cannot save the window's place: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_never_navigates_away_from_redchat() {
        for ok in [
            "tauri://localhost/index.html",
            "http://tauri.localhost/",
            "about:blank",
        ] {
            assert!(may_navigate(&ok.parse().unwrap()), "{ok}");
        }
        for refused in [
            "https://example.com/",
            "http://evil.localhost/",
            "file:///etc/passwd",
            "data:text/html,hi",
            "javascript:alert(1)",
            "about:srcdoc",
        ] {
            assert!(!may_navigate(&refused.parse().unwrap()), "{refused}");
        }
    }

    #[test]
    fn a_javascript_link_is_refused() {
        assert!(openable("javascript:alert(1)").is_err());
        assert!(openable("JavaScript:alert(1)").is_err());
    }

    #[test]
    fn file_data_and_custom_scheme_links_are_refused() {
        for link in [
            "file:///etc/passwd",
            "data:text/html,<script>alert(1)</script>",
            "smb://server/share",
            "tauri://localhost/",
            "ftp://example.com/",
            "www.example.com",
            "http://",
        ] {
            assert!(openable(link).is_err(), "{link} must be refused");
        }
    }

    #[test]
    fn http_https_and_mailto_links_open() {
        assert_eq!(
            openable("https://example.com/a?b=c#d").unwrap().as_str(),
            "https://example.com/a?b=c#d"
        );
        assert!(openable("http://localhost:8080/").is_ok());
        assert!(openable("mailto:bob@example.com").is_ok());
    }

    #[test]
    fn a_mailto_link_cannot_ask_to_attach_a_file() {
        let url = openable(
            "mailto:bob@example.com?subject=hi&attach=/home/u/.ssh/id_ed25519&ATTACHMENT=x&body=yo",
        )
        .unwrap();
        assert_eq!(url.as_str(), "mailto:bob@example.com?subject=hi&body=yo");
        assert_eq!(
            openable("mailto:bob@example.com?attach=/etc/passwd")
                .unwrap()
                .as_str(),
            "mailto:bob@example.com"
        );
    }
}
