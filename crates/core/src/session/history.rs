//! History pages: the newest messages of a conversation older than a cursor. The local
//! store answers first (at once, even offline); once it has nothing older, the Redis streams
//! do, merged over the conversation's streams and judged like live messages, and what they
//! bring is stored too.
//!
//! The cursor is one map: the reserved key [`LOCAL`] holds the store's position
//! (`<at>:<seq>`, or `end` once the store is exhausted), the other keys are stream ids.

use std::collections::HashSet;

use super::handle::Session;
use super::router::Router;
use crate::archive::{Archive, Bound};
use crate::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::inbox::{self, HistoryCursor, HistoryPage};
use crate::wire::ChatMessage;

/// The cursor key of the local store's position (never a stream key: those have a prefix).
pub const LOCAL: &str = "local";
const LOCAL_END: &str = "end";

impl Session {
    /// A page of history of `conversation` (every direct conversation when `None`): the
    /// newest `limit` messages older than `before`, oldest first. Stored messages come from
    /// the local store first, then from Redis (nothing from Redis in live-only mode, and raw
    /// channels have none).
    ///
    /// # Errors
    /// [`Error::NotConnected`] while the link is down and the local store has nothing
    /// (more); connection errors.
    pub async fn history(
        &self,
        conversation: Option<&ConversationId>,
        before: Option<HistoryCursor>,
        limit: usize,
    ) -> Result<HistoryPage> {
        let limit = limit.clamp(1, 1_000);
        let mut before = before.unwrap_or_default();
        let local = before.0.remove(LOCAL);
        let durable = self.setup_ref().durable();
        let archive = self.archive().filter(|a| a.is_available()).cloned();
        let mut stored = Vec::new();
        if let Some(archive) = &archive
            && local.as_deref() != Some(LOCAL_END)
        {
            let bound = local.as_deref().and_then(Bound::parse);
            match local_page(archive, conversation, bound, limit).await {
                Ok(page) => {
                    if let Some(older) = page.older {
                        let mut more = before.clone();
                        more.0.insert(LOCAL.into(), older.encode());
                        return Ok(HistoryPage {
                            messages: page.messages,
                            more: Some(HistoryCursor(more.0)),
                        });
                    }
                    stored = page.messages;
                }
                // A store that cannot be read: Redis answers alone (the store said why).
                Err(e) => tracing::warn!(target: "redchat::archive", "history: {e}"),
            }
        }
        // The store is exhausted: Redis, from where it stopped.
        let oldest = stored
            .first()
            .map(|m| m.at)
            .or_else(|| local.as_deref().and_then(Bound::parse).map(|b| b.at));
        let remote = if durable {
            match self
                .remote_history(conversation, before, oldest, limit)
                .await
            {
                Ok(page) => Some(page),
                Err(Error::NotConnected) if !stored.is_empty() => None,
                Err(e) if stored.is_empty() => return Err(e),
                Err(e) => {
                    tracing::warn!(target: "redchat::archive", "history from Redis: {e}");
                    None
                }
            }
        } else {
            None
        };
        let Some(remote) = remote else {
            // Offline (or live-only) with what the store had: the next page asks Redis.
            let more = (durable && !stored.is_empty()).then(|| {
                let mut more = HistoryCursor::default();
                more.0.insert(LOCAL.into(), LOCAL_END.into());
                if let Some(at) = oldest {
                    more.0.insert(LOCAL_OLDEST.into(), at.to_string());
                }
                more
            });
            return Ok(HistoryPage {
                messages: stored,
                more,
            });
        };
        if let Some(archive) = &archive {
            for m in &remote.messages {
                archive.record(m);
            }
        }
        let seen: HashSet<&str> = stored.iter().map(|m| m.id.as_str()).collect();
        let mut messages: Vec<ChatMessage> = remote
            .messages
            .into_iter()
            .filter(|m| !seen.contains(m.id.as_str()))
            .collect();
        messages.extend(stored);
        let more = remote.more.map(|mut more| {
            if archive.is_some() {
                more.0.insert(LOCAL.into(), LOCAL_END.into());
            }
            more
        });
        Ok(HistoryPage { messages, more })
    }

    /// A page from the Redis streams older than `before` (stream ids), or than `oldest` (ms)
    /// for streams the cursor does not name yet.
    async fn remote_history(
        &self,
        conversation: Option<&ConversationId>,
        mut before: HistoryCursor,
        oldest: Option<i64>,
        limit: usize,
    ) -> Result<HistoryPage> {
        let setup = self.setup_ref();
        let empty = HistoryPage {
            messages: Vec::new(),
            more: None,
        };
        let oldest = oldest.or_else(|| before.0.remove(LOCAL_OLDEST).and_then(|t| t.parse().ok()));
        before.0.remove(LOCAL_OLDEST);
        let keys = &setup.keys;
        let me = &setup.user;
        let sources = match conversation {
            None => vec![
                inbox::Source {
                    key: keys.inbox_stream(me),
                    keep: Box::new(|_| true),
                },
                inbox::Source {
                    key: keys.sent_stream(me),
                    keep: Box::new(|_| true),
                },
            ],
            Some(c @ ConversationId::Direct(_)) => {
                let (a, b) = (c.clone(), c.clone());
                vec![
                    inbox::Source {
                        key: keys.inbox_stream(me),
                        keep: Box::new(move |m| m.conversation == a),
                    },
                    inbox::Source {
                        key: keys.sent_stream(me),
                        keep: Box::new(move |m| m.conversation == b),
                    },
                ]
            }
            Some(ConversationId::Room(room)) => vec![inbox::Source {
                key: keys.room_stream(room),
                keep: Box::new(|_| true),
            }],
            Some(ConversationId::Channel(_)) => return Ok(empty),
        };
        let mut joined = self.joined();
        if let Some(c @ ConversationId::Room(_)) = conversation
            && !joined.contains(c)
        {
            joined.push(c.clone());
        }
        if let Some(at) = oldest {
            // Older than the oldest stored message: an exclusive upper bound per stream.
            for source in &sources {
                before
                    .0
                    .entry(source.key.clone())
                    .or_insert_with(|| format!("{}-0", at.max(0)));
            }
        }
        let before = Some(before);
        let router = Router::new(setup, &joined);
        let classify = |key: &str, m: &mut ChatMessage| router.route_stored(key, m);
        let mut conn = self.current_link()?;
        let limit_time = setup.response_timeout * 4;
        let page = inbox::history(&mut conn, sources, &classify, before, limit.clamp(1, 1_000));
        let page = match tokio::time::timeout(limit_time, page).await {
            Ok(result) => result?,
            Err(_) => return Err(setup.timeout(limit_time)),
        };
        // Judged like live messages: trust, "(you)", requests, blocked senders.
        let messages = page
            .messages
            .into_iter()
            .map(|m| (router.stored(&m.channel), m))
            .collect();
        Ok(HistoryPage {
            messages: self.judge_page(messages).await?,
            more: page.more,
        })
    }
}

impl HistoryCursor {
    /// A cursor for the page older than `bound` in the local store (then Redis).
    pub fn local(bound: Bound) -> HistoryCursor {
        let mut cursor = HistoryCursor::default();
        cursor.0.insert(LOCAL.into(), bound.encode());
        cursor
    }
}

/// The cursor key carrying the oldest stored time into the first Redis page (offline pages).
const LOCAL_OLDEST: &str = "localOldest";

async fn local_page(
    archive: &Archive,
    conversation: Option<&ConversationId>,
    bound: Option<Bound>,
    limit: usize,
) -> Result<crate::archive::Page> {
    let archive = archive.clone();
    let conversation = conversation.cloned();
    tokio::task::spawn_blocking(move || archive.page(conversation.as_ref(), bound, limit))
        .await
        .map_err(|e| Error::Storage(format!("the local store's reader stopped: {e}")))?
}
