//! History pages: the newest messages of a conversation older than a cursor, merged over
//! its streams and judged like live ones.

use super::handle::Session;
use super::router::Router;
use crate::conversation::ConversationId;
use crate::error::Result;
use crate::inbox::{self, HistoryCursor, HistoryPage};
use crate::wire::ChatMessage;

impl Session {
    /// A page of history of `conversation` (every direct conversation when `None`): the
    /// newest `limit` messages older than `before`, oldest first. Empty in live-only mode
    /// (nothing is stored) and for raw channels.
    ///
    /// # Errors
    /// [`Error::NotConnected`] while the link is down; connection errors.
    pub async fn history(
        &self,
        conversation: Option<&ConversationId>,
        before: Option<HistoryCursor>,
        limit: usize,
    ) -> Result<HistoryPage> {
        let setup = self.setup_ref();
        let empty = HistoryPage {
            messages: Vec::new(),
            more: None,
        };
        if !setup.durable() {
            return Ok(empty);
        }
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
