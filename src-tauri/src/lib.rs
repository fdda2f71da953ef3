//! Redchat's desktop shell: adapts `redchat-core` to a Tauri window.
//!
//! Nothing here decides how chat works; that is the core's job. The shell turns IPC calls
//! into core calls, streams the session's events to the page over a `tauri::ipc::Channel`,
//! remembers settings (tauri-plugin-store) and keeps the password in the OS keychain.
//!
//! # Layout
//! - [`commands`]: the IPC commands, thin over [`AppState`].
//! - [`state`]: the app's state: saved profile, secrets, the live session.
//! - [`error`]: [`IpcError`], the `{ code, message }` shape errors take to TypeScript.
//! - [`profile`]: saved settings ([`Profile`]) and where they live.
//! - [`secrets`]: the OS keychain, with a session-only fallback when there is none.
//! - [`stream`]: batched forwarding of core events to the page.
//! - [`attention`]: notifications, unread badge, do-not-disturb (policy); [`desktop`]: the
//!   tray, badge, notifications, second launches, window place and links (platform glue).

pub mod attention;
pub mod commands;
pub mod desktop;
pub mod doctor;
pub mod error;
pub mod logging;
pub mod profile;
pub mod secrets;
pub mod state;
pub mod store;
pub mod stream;

use std::time::Duration;

pub use error::IpcError;
pub use profile::{Profile, ProfileStore};
pub use secrets::{Keychain, Secrets};
pub use state::AppState;

use tauri::Manager;

/// How long closing the window may wait for UNSUBSCRIBE and close.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(2);

/// Registers Redchat's commands and `state` on `builder`: the one place the app is wired,
/// shared by the real app and the `tauri::test` suite.
pub fn configure<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    state: AppState,
) -> tauri::Builder<R> {
    builder.manage(state).invoke_handler(handler())
}

fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::load_profile,
        commands::check_connection,
        commands::connect,
        commands::attach,
        commands::disconnect,
        commands::send,
        commands::retry_message,
        commands::retry_now,
        commands::history,
        commands::search,
        commands::message_context,
        commands::export_messages,
        commands::ack_events,
        commands::join,
        commands::leave,
        commands::mark_read,
        commands::typing,
        commands::members,
        commands::who,
        commands::set_unread,
        commands::notify,
        commands::set_do_not_disturb,
        commands::watch_shell,
        commands::open_link,
        commands::load_prefs,
        commands::save_pref,
        commands::contact,
        commands::mark_verified,
        commands::accept_new_key,
        commands::set_standing,
        commands::identity_info,
        commands::export_identity,
        commands::import_identity,
        commands::doctor,
        commands::pick_file,
        commands::open_logs_folder,
    ]
}

/// Runs the desktop app.
///
/// # Panics
/// When the window system cannot be initialised: there is nothing to show then.
pub fn run() {
    // First: a second launch hands over to the running app before anything else starts.
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            desktop::second_launch(app);
        }))
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(desktop::navigation_guard())
        .plugin(logging::plugin());
    let builder = builder.setup(|app| {
        if let Ok(dir) = app.path().app_log_dir() {
            logging::restrict(&dir);
        }
        tracing::info!("Redchat {} starting", env!("CARGO_PKG_VERSION"));
        let store = profile::PluginStore::open(app.handle())?;
        // The outbox and inbox cursor live next to settings.json; if the directory cannot be
        // found, sessions keep them in memory (and say nothing is lost only while running).
        let data_dir = app.path().app_data_dir().ok();
        let state = AppState::new(
            Box::new(store),
            Secrets::new(Box::new(secrets::OsKeychain)),
            data_dir,
        );
        app.manage(state);
        app.manage(attention::Attention::default());
        desktop::on_notification_click(app.handle());
        match desktop::tray(app.handle()) {
            Ok(parts) => {
                app.manage(parts);
            }
            Err(e) => tracing::warn!("no tray icon: {e}"),
        }
        // The footprint benchmark's floor: this same binary showing an empty page.
        if std::env::var_os("REDCHAT_BLANK_WINDOW").is_some()
            && let Some(window) = app.get_webview_window("main")
        {
            window.navigate("about:blank".parse()?)?;
        }
        Ok(())
    });
    let builder = builder
        .on_window_event(|window, event| {
            if matches!(
                event,
                tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_)
            ) {
                desktop::save_place_soon(window.app_handle());
            }
        })
        .invoke_handler(handler());
    builder
        .build(tauri::generate_context!())
        .expect("cannot start the Redchat window")
        .run(|app, event| match event {
            // Closing the window: UNSUBSCRIBE and close, as the original client did, bounded.
            tauri::RunEvent::Exit => {
                if let Some(state) = app.try_state::<AppState>() {
                    tauri::async_runtime::block_on(state.shutdown(SHUTDOWN_LIMIT));
                }
            }
            // macOS never starts a second process from the Dock or Finder: it asks the running
            // one to reopen, which does nothing by itself for a minimised window.
            #[cfg(target_os = "macos")]
            tauri::RunEvent::Reopen {
                has_visible_windows: false,
                ..
            } => desktop::bring_forward(app),
            _ => {}
        });
}
