//! Rooms and presence on the handle: join, leave (with their system lines), member lists,
//! who is online.

use tokio::sync::oneshot;

use super::events::Member;
use super::handle::Session;
use super::readers;
use crate::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::inbox::PAYLOAD_FIELD;
use crate::presence;
use crate::wire::{self, MemberAction, Signal};

impl Session {
    /// Joins (creating it if new) the room `#name`, or listens on the raw channel `~name`.
    /// The join shows in the room as a system line; our other devices follow.
    ///
    /// # Errors
    /// [`Error::InvalidRoom`]; [`Error::NotConnected`]; [`Error::Redis`] (e.g. a member set
    /// of another type, named in the message).
    pub async fn join(&self, name: &str) -> Result<ConversationId> {
        let text = name.trim();
        let conversation = if text.starts_with('#') || text.starts_with('~') {
            ConversationId::parse(text)?
        } else {
            ConversationId::Room(crate::conversation::RoomName::parse(text)?)
        };
        let setup = self.setup_ref();
        let keys = &setup.keys;
        let me = &setup.user;
        let mut from = None;
        if let ConversationId::Room(room) = &conversation {
            let mut pipe = redis::pipe();
            pipe.cmd("SADD").arg(keys.members(room)).arg(me.as_str());
            let (added,): (u64,) = self
                .bounded(&pipe)
                .await
                .map_err(|e| e.about_key(&keys.members(room)))?;
            if added == 1 {
                from = Some(self.member_line(room, MemberAction::Join).await?);
            } else if setup.durable() {
                from = Some(wire::now_ms().to_string() + "-0");
            }
        }
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(keys.rooms(me))
            .arg(conversation.to_string())
            .arg(from.clone().unwrap_or_default())
            .ignore();
        pipe.cmd("PUBLISH")
            .arg(keys.signal_channel(me))
            .arg(wire::encode_signal(me.as_str(), &Signal::Rooms, None))
            .ignore();
        self.bounded::<()>(&pipe)
            .await
            .map_err(|e| e.about_key(&keys.rooms(me)))?;
        let (done, joined) = oneshot::channel();
        let _ = self.reader_sender().send(readers::Command::Join {
            conversation: conversation.clone(),
            from,
            done,
        });
        let _ = joined.await;
        let _ = self.presence_sender().send(presence::Command::Refresh);
        Ok(conversation)
    }

    /// Writes our join or leave line to a room (stream and channel); returns its stream id
    /// (or the time, live-only).
    async fn member_line(
        &self,
        room: &crate::conversation::RoomName,
        action: MemberAction,
    ) -> Result<String> {
        let setup = self.setup_ref();
        let keys = &setup.keys;
        let id = wire::new_id();
        let payload = wire::encode_signal(
            setup.user.as_str(),
            &Signal::Member {
                room: room.as_str(),
                action,
                id: &id,
            },
            Some(&setup.identity),
        );
        let mut pipe = redis::pipe();
        if setup.durable() {
            pipe.cmd("XADD")
                .arg(keys.room_stream(room))
                .arg("MAXLEN")
                .arg("~")
                .arg(setup.stream_max_len)
                .arg("*")
                .arg(PAYLOAD_FIELD)
                .arg(&payload);
        }
        pipe.cmd("PUBLISH")
            .arg(keys.room_channel(room))
            .arg(&payload)
            .ignore();
        if setup.durable() {
            let (entry,): (String,) = self
                .bounded(&pipe)
                .await
                .map_err(|e| e.about_key(&keys.room_stream(room)))?;
            Ok(entry)
        } else {
            self.bounded::<()>(&pipe).await?;
            Ok(format!("{}-0", wire::now_ms()))
        }
    }

    /// Leaves a room (a system line says so) or stops listening on a raw channel.
    ///
    /// # Errors
    /// [`Error::NotConnected`]; [`Error::Redis`].
    pub async fn leave(&self, conversation: &ConversationId) -> Result<()> {
        let setup = self.setup_ref();
        let keys = &setup.keys;
        let me = &setup.user;
        if let ConversationId::Room(room) = conversation {
            let mut pipe = redis::pipe();
            pipe.cmd("SREM").arg(keys.members(room)).arg(me.as_str());
            let (removed,): (u64,) = self
                .bounded(&pipe)
                .await
                .map_err(|e| e.about_key(&keys.members(room)))?;
            if removed == 1 {
                self.member_line(room, MemberAction::Leave).await?;
            }
        }
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL")
            .arg(keys.rooms(me))
            .arg(conversation.to_string())
            .ignore();
        pipe.cmd("PUBLISH")
            .arg(keys.signal_channel(me))
            .arg(wire::encode_signal(me.as_str(), &Signal::Rooms, None))
            .ignore();
        self.bounded::<()>(&pipe).await?;
        let _ = self.reader_sender().send(readers::Command::Leave {
            conversation: conversation.clone(),
        });
        Ok(())
    }

    /// A room's members with their presence, looked up now, and how many entries of the
    /// member set are not valid names.
    ///
    /// # Errors
    /// [`Error::NotConnected`]; [`Error::Redis`] (a member set of another type).
    pub async fn members(&self, conversation: &ConversationId) -> Result<(Vec<Member>, usize)> {
        if conversation.room().is_none() {
            return Err(Error::InvalidRoom(format!("{conversation} is not a room")));
        }
        let (reply, answer) = oneshot::channel();
        self.presence_sender()
            .send(presence::Command::Members(conversation.clone(), reply))
            .map_err(|_| Error::NotConnected)?;
        answer.await.map_err(|_| Error::NotConnected)?
    }

    /// Who is online (and who was recently seen), looked up now (as last looked up while
    /// the link is down).
    ///
    /// # Errors
    /// [`Error::NotConnected`] after shutdown.
    pub async fn who(&self) -> Result<Vec<Member>> {
        let (reply, answer) = oneshot::channel();
        self.presence_sender()
            .send(presence::Command::Who(reply))
            .map_err(|_| Error::NotConnected)?;
        answer.await.map_err(|_| Error::NotConnected)
    }

    /// Looks at presence and member lists again now.
    pub fn refresh_presence(&self) {
        let _ = self.presence_sender().send(presence::Command::Refresh);
    }
}
