//! IPC commands: argument plumbing only; the work is in [`crate::state::AppState`].

use redchat_core::{ChatMessage, HistoryCursor, HistoryPage};
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::error::IpcError;
use crate::state::{AppState, ConnectRequest, Connected, ConnectionCheck, ProfileView};

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
    to: Option<String>,
    text: String,
) -> Result<ChatMessage, IpcError> {
    state.send(to, &text).await
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
    peer: Option<String>,
    before: Option<HistoryCursor>,
    limit: usize,
) -> Result<HistoryPage, IpcError> {
    state.history(peer, before, limit).await
}

/// The page has handled the last batch of events; the next may come.
#[tauri::command]
pub async fn ack_events(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.ack_events().await;
    Ok(())
}
