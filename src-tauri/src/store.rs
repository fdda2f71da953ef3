//! The local message store through the shell: search, a hit in context, export. The store
//! itself is the core's (`redchat_core::archive`); these run its blocking calls off the
//! async runtime for the session the window has.

use redchat_core::archive::{Format, Found, Query};
use redchat_core::{Archive, ChatMessage, Code, ConversationId, HistoryCursor};

use crate::error::IpcError;
use crate::state::AppState;

impl AppState {
    /// The local message store of the session (also while it reconnects).
    async fn archive(&self) -> Result<Archive, IpcError> {
        let session = self.current_session().await?;
        session
            .archive()
            .filter(|a| a.is_available())
            .cloned()
            .ok_or_else(|| {
                IpcError::from(redchat_core::Error::Storage(
                    "the local message store cannot be used now (a notice said why)".into(),
                ))
            })
    }

    /// Searches the local store: `query` with its filters, in `conversation` when given;
    /// dates are days at `offset_minutes` east of UTC (the window's time zone).
    ///
    /// # Errors
    /// `invalid_search` (the message says why), `not_connected` without a session, `storage`.
    pub async fn search(
        &self,
        query: &str,
        conversation: Option<String>,
        limit: usize,
        offset_minutes: i32,
    ) -> Result<Found, IpcError> {
        let offset = chrono::FixedOffset::east_opt(offset_minutes.clamp(-1_080, 1_080) * 60)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"));
        let mut query = Query::parse(query, offset)?;
        if let Some(c) = conversation {
            query.conversation = Some(ConversationId::parse(&c)?);
        }
        let archive = self.archive().await?;
        blocking(move || archive.search(&query, limit.clamp(1, 500))).await
    }

    /// Message `id` of `conversation` with the messages around it, from the local store.
    ///
    /// # Errors
    /// `invalid_search` when it is no longer stored, `not_connected`, `storage`.
    pub async fn message_context(
        &self,
        conversation: &str,
        id: String,
    ) -> Result<ContextPage, IpcError> {
        let conversation = ConversationId::parse(conversation)?;
        let archive = self.archive().await?;
        let context =
            blocking(move || archive.context(&conversation, &id, CONTEXT_BEFORE, CONTEXT_AFTER))
                .await?;
        Ok(ContextPage {
            messages: context.messages,
            more: context.older.map(HistoryCursor::local),
            newer: context.newer,
        })
    }

    /// Exports the stored messages of `conversation` (all when absent) to `path`.
    ///
    /// # Errors
    /// `not_connected`, `storage` (reading the store, writing the file).
    pub async fn export_to(
        &self,
        conversation: Option<String>,
        format: Format,
        path: std::path::PathBuf,
    ) -> Result<u64, IpcError> {
        let conversation = conversation
            .map(|c| ConversationId::parse(&c))
            .transpose()?;
        let archive = self.archive().await?;
        blocking(move || {
            let file = redchat_core::archive::private_file(&path).map_err(|e| {
                redchat_core::Error::Storage(format!("cannot create {}: {e}", path.display()))
            })?;
            archive.export(conversation.as_ref(), format, std::io::BufWriter::new(file))
        })
        .await
    }
}

/// Messages shown before a search hit opened in context.
const CONTEXT_BEFORE: usize = 30;
/// Messages shown after it (newer ones load when the user jumps to the latest).
const CONTEXT_AFTER: usize = 200;

/// A search hit with the messages around it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextPage {
    /// Oldest first, the hit among them.
    pub messages: Vec<ChatMessage>,
    /// Where older history continues (as `history`'s cursor).
    pub more: Option<HistoryCursor>,
    /// Newer messages exist beyond the last one.
    pub newer: bool,
}

/// Runs a store call off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> redchat_core::Result<T> + Send + 'static,
) -> Result<T, IpcError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(IpcError::new(
            Code::Internal,
            format!("the store call stopped: {e}"),
        )),
    }
}
