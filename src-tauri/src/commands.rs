//! IPC commands: argument plumbing only; the work is in [`crate::state::AppState`].

use redchat_core::{ChatMessage, HistoryCursor, HistoryPage};
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::error::IpcError;
use crate::state::{
    AppState, ConnectRequest, Connected, ConnectionCheck, IdentityInfo, MemberList, ProfileView,
};
use redchat_core::Member;
use redchat_core::{Contact, Standing};

/// The saved settings for the form.
#[tauri::command]
pub async fn load_profile(state: State<'_, AppState>) -> Result<ProfileView, IpcError> {
    Ok(state.load_profile().await)
}

/// Parses a connection string for inline feedback; touches no network.
#[tauri::command]
pub fn check_connection(connection: String) -> Result<ConnectionCheck, IpcError> {
    AppState::check(&connection)
}

/// The doctor's report for the form's settings: what works, each problem with its fix.
#[tauri::command]
pub async fn doctor(
    state: State<'_, AppState>,
    request: ConnectRequest,
) -> Result<crate::doctor::DoctorView, IpcError> {
    Ok(state.doctor(request).await)
}

/// A native "open file" dialog (TLS files); `None` when cancelled. The dialog plugin's own
/// commands are not granted to the page: only this one, which returns a path.
#[tauri::command]
pub async fn pick_file<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    title: String,
) -> Result<Option<String>, IpcError> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .add_filter("PEM", &["pem", "crt", "cer", "key"])
        .pick_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    let picked = rx.await.ok().flatten();
    Ok(picked.map(|p| p.display().to_string()))
}

/// Opens the log folder in the file manager; returns its path (shown when no file manager
/// can be started).
#[tauri::command]
pub fn open_logs_folder<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> Result<String, IpcError> {
    use tauri::Manager;
    let dir = app
        .path()
        .app_log_dir()
        .map_err(|e| IpcError::new(redchat_core::Code::Internal, format!("no log folder: {e}")))?;
    crate::logging::restrict(&dir);
    use tauri_plugin_opener::OpenerExt;
    if let Err(e) = app
        .opener()
        .open_path(dir.display().to_string(), None::<&str>)
    {
        tracing::info!("cannot open the log folder in a file manager: {e}");
    }
    Ok(dir.display().to_string())
}

/// Connects and starts streaming events to `events`.
#[tauri::command]
pub async fn connect(
    state: State<'_, AppState>,
    request: ConnectRequest,
    events: Channel<InvokeResponseBody>,
) -> Result<Connected, IpcError> {
    state.connect(request, events).await
}

/// Re-attaches a reloaded page to the live session; `None` when there is none.
#[tauri::command]
pub async fn attach(
    state: State<'_, AppState>,
    events: Channel<InvokeResponseBody>,
) -> Result<Option<Connected>, IpcError> {
    Ok(state.attach(events).await)
}

/// Ends the live session.
#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.shutdown(crate::SHUTDOWN_LIMIT).await;
    Ok(())
}

/// Queues a message in the outbox; returns it at once (`outgoing` events follow).
#[tauri::command]
pub async fn send(
    state: State<'_, AppState>,
    conversation: Option<String>,
    text: String,
) -> Result<ChatMessage, IpcError> {
    state.send(conversation, &text).await
}

/// Queues a failed message again.
#[tauri::command]
pub async fn retry_message(state: State<'_, AppState>, id: String) -> Result<(), IpcError> {
    state.retry_message(&id).await
}

/// Reconnects now instead of waiting for the next attempt.
#[tauri::command]
pub async fn retry_now(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.retry_now().await
}

/// A page of history, oldest first.
#[tauri::command]
pub async fn history(
    state: State<'_, AppState>,
    conversation: Option<String>,
    before: Option<HistoryCursor>,
    limit: usize,
) -> Result<HistoryPage, IpcError> {
    state.history(conversation, before, limit).await
}

/// Searches the messages stored on this device (see `AppState::search`).
#[tauri::command]
pub async fn search(
    state: State<'_, AppState>,
    query: String,
    conversation: Option<String>,
    limit: usize,
    offset_minutes: i32,
) -> Result<redchat_core::archive::Found, IpcError> {
    state
        .search(&query, conversation, limit, offset_minutes)
        .await
}

/// A stored message with the messages around it (a search hit opened in context).
#[tauri::command]
pub async fn message_context(
    state: State<'_, AppState>,
    conversation: String,
    id: String,
) -> Result<crate::store::ContextPage, IpcError> {
    state.message_context(&conversation, id).await
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    /// The file.
    pub path: String,
    /// Messages written.
    pub count: u64,
}

/// Asks where to save (a save dialog), then exports the stored messages of `conversation`
/// (all when absent) as `format` (`json`, `csv`, `md`). `None` when the user cancels.
#[tauri::command]
pub async fn export_messages<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    conversation: Option<String>,
    format: String,
) -> Result<Option<Exported>, IpcError> {
    use tauri_plugin_dialog::DialogExt;
    let format: redchat_core::archive::Format = format.parse()?;
    let stem = conversation
        .as_deref()
        .map(|c| c.trim_start_matches(['@', '#', '~']).to_string())
        .unwrap_or_else(|| "all".into());
    let name = format!("redchat-{stem}.{}", format.extension());
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Export messages")
        .set_file_name(name)
        .add_filter(format.extension(), &[format.extension()])
        .save_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let count = state.export_to(conversation, format, path.clone()).await?;
    Ok(Some(Exported {
        path: path.display().to_string(),
        count,
    }))
}

/// Joins a room (`#team`) or raw channel (`~messages`); returns its conversation id.
#[tauri::command]
pub async fn join(state: State<'_, AppState>, name: String) -> Result<String, IpcError> {
    state.join(&name).await
}

/// Leaves a room or channel.
#[tauri::command]
pub async fn leave(state: State<'_, AppState>, conversation: String) -> Result<(), IpcError> {
    state.leave(&conversation).await
}

/// Marks a conversation read (on every device of ours).
#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, conversation: String) -> Result<(), IpcError> {
    state.mark_read(&conversation).await
}

/// We are typing in a conversation.
#[tauri::command]
pub async fn typing(state: State<'_, AppState>, conversation: String) -> Result<(), IpcError> {
    state.typing(&conversation).await
}

/// A room's members with presence.
#[tauri::command]
pub async fn members(
    state: State<'_, AppState>,
    conversation: String,
) -> Result<MemberList, IpcError> {
    state.members(&conversation).await
}

/// Who is online.
#[tauri::command]
pub async fn who(state: State<'_, AppState>) -> Result<Vec<Member>, IpcError> {
    state.who().await
}

/// The unread total: the window title says it (`(3) Redchat`), and so do the taskbar badge
/// and the tray tooltip where the platform has them.
#[tauri::command]
pub fn set_unread<R: tauri::Runtime>(
    window: tauri::WebviewWindow<R>,
    total: u32,
) -> Result<(), IpcError> {
    let title = if total > 0 {
        format!("({total}) Redchat")
    } else {
        "Redchat".to_string()
    };
    window
        .set_title(&title)
        .map_err(|e| IpcError::new(redchat_core::Code::Internal, e.to_string()))?;
    crate::desktop::show_unread(&window, total);
    Ok(())
}

/// A desktop notification, unless the window has focus or do-not-disturb is on: what
/// happened to it. Plain text only.
#[tauri::command]
pub async fn notify<R: tauri::Runtime>(
    window: tauri::WebviewWindow<R>,
    title: String,
    body: String,
    conversation: Option<String>,
) -> Result<crate::attention::Shown, IpcError> {
    crate::desktop::notify(&window, &title, &body, conversation.as_deref()).await
}

/// Turns do-not-disturb on or off (the tray menu shows it too).
#[tauri::command]
pub fn set_do_not_disturb<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    attention: State<'_, crate::attention::Attention>,
    on: bool,
) {
    attention.set_do_not_disturb(on);
    crate::desktop::sync_tray(&app);
}

/// Streams the shell's own events (do-not-disturb changes) to `events`, starting with the
/// current state.
#[tauri::command]
pub fn watch_shell(
    attention: State<'_, crate::attention::Attention>,
    events: Channel<crate::attention::ShellEvent>,
) {
    attention.watch(events);
}

/// The window's preferences (theme, mutes) as kept in `prefs.json`.
#[tauri::command]
pub fn load_prefs<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
) -> Result<serde_json::Map<String, serde_json::Value>, IpcError> {
    crate::profile::load_prefs(&app)
}

/// Keeps one preference of the window (`redchat.*`, a short string).
#[tauri::command]
pub fn save_pref<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    key: String,
    value: String,
) -> Result<(), IpcError> {
    crate::profile::save_pref(&app, &key, &value)
}

/// Opens a link from a message in the system browser: http, https and mailto only.
#[tauri::command]
pub fn open_link<R: tauri::Runtime>(app: tauri::AppHandle<R>, url: String) -> Result<(), IpcError> {
    crate::desktop::open_link(&app, &url)
}

/// The page has handled the last batch of events; the next may come.
#[tauri::command]
pub async fn ack_events(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.ack_events().await;
    Ok(())
}

/// A person: safety number, pinned and published keys, standing.
#[tauri::command]
pub async fn contact(state: State<'_, AppState>, user: String) -> Result<Contact, IpcError> {
    state.contact(&user).await
}

/// Marks a person's key as verified (compared safety numbers) or not; `key` is the key the
/// panel showed (nothing is marked if another is pinned by now).
#[tauri::command]
pub async fn mark_verified(
    state: State<'_, AppState>,
    user: String,
    verified: bool,
    key: Option<String>,
) -> Result<Contact, IpcError> {
    state.mark_verified(&user, verified, key.as_deref()).await
}

/// Trusts the new key a person signs with; `key` is the new key the panel showed.
#[tauri::command]
pub async fn accept_new_key(
    state: State<'_, AppState>,
    user: String,
    key: Option<String>,
) -> Result<Contact, IpcError> {
    state.accept_new_key(&user, key.as_deref()).await
}

/// Accepts a request (`contact`), blocks (`blocked`) or lifts a block (`request`).
#[tauri::command]
pub async fn set_standing(
    state: State<'_, AppState>,
    user: String,
    standing: Standing,
) -> Result<(), IpcError> {
    state.set_standing(&user, standing).await
}

/// Our public key and where the private key is kept.
#[tauri::command]
pub async fn identity_info(state: State<'_, AppState>) -> Result<IdentityInfo, IpcError> {
    state.identity_info().await
}

/// Our private identity key as text, to use it on another computer of ours (secret).
#[tauri::command]
pub async fn export_identity(state: State<'_, AppState>) -> Result<String, IpcError> {
    state.export_identity().await
}

/// Signs as the identity exported on another computer of ours, from the next connect on.
#[tauri::command]
pub async fn import_identity(
    state: State<'_, AppState>,
    text: String,
) -> Result<IdentityInfo, IpcError> {
    state.import_identity(&text).await
}
