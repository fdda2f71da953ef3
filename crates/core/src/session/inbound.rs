//! The one inbound path: every payload, live (pub/sub) or stored (stream entries), goes
//! decode → authenticate → route to its conversation → de-duplicate → emit, here and only
//! here. The task also owns what depends on having seen messages: the ids already shown,
//! read positions and unread counts, typing throttles, and the stream cursors on disk.
//!
//! Authentication ([`super::verify::Judge`]: signatures, pinned keys, requests, blocked
//! senders) runs before de-duplication, so a forged copy can never hide a real message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::config::Setup;
use super::events::{Counters, Emitter, Event, NoticeCode};
use super::queue::{EFFECTS_LIMIT, Gauge};
use super::router::{Router, Source};
use super::shutdown::Shutdown;
use super::verify::{Judge, Verdict};
use crate::conversation::ConversationId;
use crate::inbox::Entry;
use crate::store::{CursorFile, Seen};
use crate::trust::{People, Trust};
use crate::username::Username;
use crate::wire::{self, Incoming};

/// Typing events shown per sender and conversation at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(1);
/// Unread counts are sent at most this often.
const UNREAD_EVERY: Duration = Duration::from_millis(50);
/// Unread message times kept per conversation.
const UNREAD_KEEP: usize = 10_000;
/// The people file is written at most this often (and when the session ends).
const PEOPLE_SAVE_EVERY: Duration = Duration::from_secs(1);

/// What reaches the inbound task.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A pub/sub message.
    Live { channel: String, payload: Vec<u8> },
    /// Stream entries of `key`, in order; `cursor` is the position to save afterwards.
    Stored {
        key: String,
        entries: Vec<Entry>,
        /// After a stream reset: messages sent at or before this time (ms) were shown.
        hide_sent_before: Option<u64>,
    },
    /// New stream positions to persist.
    Cursors(BTreeMap<String, String>),
    /// A stream we no longer read (a room we left): forget its position.
    Forget { key: String },
    /// A catch-up read starts / ended.
    CatchUp { done: bool },
    /// A stream can (not) be read: its live copies must (not) be shown instead.
    StreamReadable { key: String, readable: bool },
    /// Read positions loaded from Redis.
    Positions(HashMap<ConversationId, i64>),
    /// We sent this message (from this device): it is read and never shown again.
    Sent { id: String },
    /// We published this plain text to a raw channel: its echo is not shown.
    SentPlain { channel: String, text: String },
    /// Mark a conversation read here and on our other devices.
    MarkRead(ConversationId),
    /// Contacts, keys, requests and blocks.
    People(super::people::Command),
}

/// Unread state of one conversation.
#[derive(Debug, Default)]
struct Unread {
    read_at: i64,
    /// Times (and whether they mention us) of messages after `read_at`, not ours.
    pending: std::collections::VecDeque<(i64, bool)>,
    /// How many of `pending` mention us.
    mentions: usize,
    /// Newest message time seen here.
    newest: i64,
    /// The counts last emitted.
    shown: (usize, usize),
}

impl Unread {
    fn counts(&self) -> (usize, usize) {
        (self.pending.len(), self.mentions)
    }

    fn read_up_to(&mut self, at: i64) {
        self.read_at = self.read_at.max(at);
        let read_at = self.read_at;
        self.pending.retain(|(t, _)| *t > read_at);
        self.mentions = self.pending.iter().filter(|(_, m)| *m).count();
    }
}

/// Effects the inbound task asks of the world (Redis writes, other tasks).
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Store and broadcast our read position.
    SaveRead {
        conversation: ConversationId,
        at: i64,
    },
    /// Someone says their presence changed: look at them again.
    PresenceHint { user: String },
    /// Our joined list changed elsewhere, or a member list changed: look again.
    MembershipHint { ours: bool },
}

/// The inbound task's state.
pub(crate) struct InboundTask {
    setup: Arc<Setup>,
    events: Emitter,
    counters: Arc<Counters>,
    pub(crate) judge: Judge,
    /// What waits in our queue, and live payloads dropped when it was full.
    gauge: Arc<Gauge>,
    /// What waits for the effects task.
    effects_gauge: Arc<Gauge>,
    /// Blocked senders' dropped messages, this session, and whose counts changed.
    blocked: HashMap<String, u64>,
    blocked_dirty: HashSet<String>,
    people_saved: Instant,
    joined: watch::Receiver<Vec<ConversationId>>,
    router: Router,
    seen: Seen,
    cursor_file: CursorFile,
    cursors: BTreeMap<String, String>,
    /// Streams that cannot be read: their conversations' live copies are shown instead.
    unreadable_streams: HashSet<String>,
    unread: HashMap<ConversationId, Unread>,
    /// Conversations whose counts may have changed since the last flush.
    dirty: HashSet<ConversationId>,
    typing: HashMap<(ConversationId, String), Instant>,
    catching_up: Option<usize>,
    /// Echoes of our own raw-channel lines still to come.
    echoes: HashMap<(String, String), usize>,
    effects: mpsc::UnboundedSender<Effect>,
}

impl InboundTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        setup: Arc<Setup>,
        events: Emitter,
        counters: Arc<Counters>,
        joined: watch::Receiver<Vec<ConversationId>>,
        cursor_file: CursorFile,
        recent: Vec<String>,
        cursors: BTreeMap<String, String>,
        people: People,
        effects: (mpsc::UnboundedSender<Effect>, Arc<Gauge>),
        gauge: Arc<Gauge>,
    ) -> InboundTask {
        let (effects, effects_gauge) = effects;
        let judge = Judge::new(
            setup.user.clone(),
            setup.identity.public_key().to_string(),
            people,
        );
        let router = Router::new(&setup, &joined.borrow());
        let mut seen = Seen::default();
        for id in &recent {
            seen.insert(id);
        }
        InboundTask {
            setup,
            events,
            counters,
            judge,
            gauge,
            effects_gauge,
            blocked: HashMap::new(),
            blocked_dirty: HashSet::new(),
            people_saved: Instant::now(),
            joined,
            router,
            seen,
            cursor_file,
            cursors,
            unreadable_streams: HashSet::new(),
            unread: HashMap::new(),
            dirty: HashSet::new(),
            typing: HashMap::new(),
            catching_up: None,
            echoes: HashMap::new(),
            effects,
        }
    }

    /// Runs until shutdown or until every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Inbound>, mut shutdown: Shutdown) {
        let mut batch = Vec::with_capacity(256);
        // Unread counts go out at most every UNREAD_EVERY: a busy conversation changes them
        // with every message, the window needs them once a frame or so.
        let mut flush_at: Option<Instant> = None;
        loop {
            let flush = async {
                match flush_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = rx.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        self.flush_unread();
                        self.judge.people.save();
                        return;
                    }
                    self.gauge.taken(n);
                    if self.joined.has_changed().unwrap_or(false) {
                        self.router = Router::new(&self.setup, &self.joined.borrow_and_update());
                    }
                    for item in batch.drain(..) {
                        self.handle(item);
                    }
                    let pending = !self.dirty.is_empty()
                        || !self.blocked_dirty.is_empty()
                        || self.judge.people.is_dirty();
                    if pending && flush_at.is_none() {
                        flush_at = Some(Instant::now() + UNREAD_EVERY);
                    }
                }
                _ = flush => {
                    flush_at = None;
                    self.flush_unread();
                    if self.judge.people.is_dirty() {
                        if self.people_saved.elapsed() >= PEOPLE_SAVE_EVERY {
                            self.judge.people.save();
                            self.people_saved = Instant::now();
                        } else {
                            flush_at = Some(self.people_saved + PEOPLE_SAVE_EVERY);
                        }
                    }
                }
                _ = shutdown.recv() => {
                    // What is already queued is handled, so nothing received is lost.
                    while let Ok(item) = rx.try_recv() {
                        self.gauge.taken(1);
                        self.handle(item);
                    }
                    self.flush_unread();
                    self.judge.people.save();
                    return;
                }
            }
        }
    }

    fn handle(&mut self, item: Inbound) {
        match item {
            Inbound::Live { channel, payload } => {
                self.gauge.bytes_taken(payload.len());
                let source = self.router.live(&channel);
                // The stream copy of a durable message is the one shown: skip the live copy
                // without decoding it (the same rule `accept` applies to a decoded one).
                if self.stream_shows(&source) && wire::is_durable_chat(&payload) {
                    Counters::bump(&self.counters.live_copies_skipped, 1);
                    return;
                }
                let incoming = wire::decode(&channel, &payload);
                self.accept(&source, incoming, None);
            }
            Inbound::Stored {
                key,
                entries,
                hide_sent_before,
            } => {
                let Some(source) = self.router.stored(&key) else {
                    return;
                };
                for entry in entries {
                    let incoming = entry.decode(&key);
                    self.accept(&source, incoming, hide_sent_before);
                }
            }
            Inbound::Cursors(cursors) => {
                self.cursors.extend(cursors);
                self.cursor_file.save(&self.cursors, &self.seen);
            }
            Inbound::Forget { key } => {
                if self.cursors.remove(&key).is_some() {
                    self.cursor_file.save(&self.cursors, &self.seen);
                }
            }
            Inbound::CatchUp { done: false } => self.catching_up = Some(0),
            Inbound::CatchUp { done: true } => {
                let count = self.catching_up.take().unwrap_or(0);
                Counters::bump(&self.counters.caught_up, count as u64);
                self.events.emit(Event::CaughtUp { count });
            }
            Inbound::StreamReadable { key, readable } => {
                if readable {
                    self.unreadable_streams.remove(&key);
                } else {
                    self.unreadable_streams.insert(key);
                }
            }
            Inbound::Positions(positions) => {
                for (conversation, at) in positions {
                    self.set_read(conversation, at);
                }
            }
            Inbound::Sent { id } => {
                self.seen.insert(&id);
            }
            Inbound::SentPlain { channel, text } => {
                if self.echoes.len() < 1_000 {
                    *self.echoes.entry((channel, text)).or_default() += 1;
                }
            }
            Inbound::People(command) => self.people_command(command),
            Inbound::MarkRead(conversation) => {
                let state = self.unread_of(&conversation);
                let at = state.newest.max(state.read_at);
                if at > 0 {
                    self.set_read(conversation.clone(), at);
                    self.effect(Effect::SaveRead { conversation, at });
                }
            }
        }
    }

    /// Whether the live copy of a durable message is skipped (its stream copy is shown).
    fn stream_shows(&self, source: &Source) -> bool {
        if !self.setup.durable() {
            return false;
        }
        if self.unreadable_streams.is_empty() {
            return matches!(
                source,
                Source::Inbox { stored: false } | Source::Room { stored: false, .. }
            );
        }
        let key = match source {
            Source::Inbox { stored: false } => self.setup.keys.inbox_stream(&self.setup.user),
            Source::Room {
                room,
                stored: false,
            } => self.setup.keys.room_stream(room),
            _ => return false,
        };
        !self.unreadable_streams.contains(&key)
    }

    /// Authenticate → route → de-duplicate → emit.
    fn accept(&mut self, source: &Source, incoming: Incoming, hide_sent_before: Option<u64>) {
        match incoming {
            Incoming::Chat(mut m) => {
                if self.router.route_chat(source, &mut m).is_none() {
                    return;
                }
                // Judged before anything is compared: a message that is not authentic has
                // an id of its own from here on.
                let announce = match self.judge.chat(source, &mut m) {
                    Verdict::Blocked => {
                        Counters::bump(&self.counters.blocked_dropped, 1);
                        let user = m.sender.trim().to_lowercase();
                        *self.blocked.entry(user.clone()).or_default() += 1;
                        self.blocked_dirty.insert(user);
                        return;
                    }
                    Verdict::Show {
                        announce_key_change,
                    } => announce_key_change,
                };
                if m.durable && self.stream_shows(source) {
                    Counters::bump(&self.counters.live_copies_skipped, 1);
                    return;
                }
                let old = matches!(
                    (m.sent_at_micros(), hide_sent_before),
                    (Some(us), Some(before)) if (us / 1_000) as u64 <= before
                );
                // Legacy live messages have fresh local ids: nothing to compare.
                let stored = matches!(
                    source,
                    Source::Room { stored: true, .. }
                        | Source::Inbox { stored: true }
                        | Source::Sent
                );
                let dedup = !m.legacy || stored;
                if old || (dedup && !self.seen.insert(&m.id)) {
                    // Our sent stream echoes what this device sent: expected, not a duplicate.
                    if old || *source != Source::Sent {
                        Counters::bump(&self.counters.duplicates_hidden, 1);
                    }
                    return;
                }
                if matches!(m.trust, Trust::Invalid | Trust::KeyChanged) {
                    Counters::bump(&self.counters.not_authentic, 1);
                }
                if announce {
                    self.events.emit(Event::KeyChanged {
                        conversation: m.conversation.clone(),
                        user: m.sender.trim().to_lowercase(),
                    });
                }
                self.count(&m.conversation, m.at, m.mine, m.mentions_me);
                if !m.mine {
                    self.typing
                        .remove(&(m.conversation.clone(), m.sender.clone()));
                }
                self.shown();
                self.events.emit(Event::Chat(m));
            }
            Incoming::Plain(mut p) => {
                if let Some(n) = self.echoes.get_mut(&(p.channel.clone(), p.text.clone())) {
                    *n -= 1;
                    if *n == 0 {
                        self.echoes.remove(&(p.channel.clone(), p.text.clone()));
                    }
                    return;
                }
                p.conversation = match source {
                    Source::Room { room, .. } => ConversationId::Room(room.clone()),
                    Source::Inbox { .. } => ConversationId::Channel(p.channel.clone()),
                    Source::Signal | Source::Presence | Source::Sent => return,
                    Source::Channel(c) => ConversationId::Channel(c.clone()),
                };
                self.count(&p.conversation, wire::now_ms(), false, false);
                self.shown();
                self.events.emit(Event::Plain(p));
            }
            Incoming::Unreadable(mut u) => {
                u.conversation = match source {
                    Source::Room { room, .. } => ConversationId::Room(room.clone()),
                    Source::Channel(c) => ConversationId::Channel(c.clone()),
                    // Garbage on our own channels and streams is shown in a conversation of
                    // its channel: never dropped, never put into somebody's conversation.
                    _ => ConversationId::Channel(u.channel.clone()),
                };
                self.shown();
                self.events.emit(Event::Unreadable(u));
            }
            Incoming::Typing(mut t) => {
                if self.router.is_me(&t.user) {
                    return;
                }
                t.conversation = match source {
                    Source::Signal => match Username::parse(&t.user) {
                        Ok(u) => ConversationId::Direct(u),
                        Err(_) => return,
                    },
                    Source::Room { room, .. } => ConversationId::Room(room.clone()),
                    _ => return,
                };
                // A flood from one sender shows as one event a second; the table is bounded.
                let now = Instant::now();
                let key = (t.conversation.clone(), t.user.clone());
                if self
                    .typing
                    .get(&key)
                    .is_some_and(|last| now.duration_since(*last) < TYPING_EVERY)
                {
                    return;
                }
                if self.typing.len() > 1_000 {
                    self.typing
                        .retain(|_, last| now.duration_since(*last) < TYPING_EVERY);
                    if self.typing.len() > 1_000 {
                        return;
                    }
                }
                self.typing.insert(key, now);
                self.events.emit(Event::Typing(t));
            }
            Incoming::Read(r) => {
                if source != &Source::Signal || !self.router.is_me(&r.sender) {
                    return;
                }
                if let Ok(conversation) = ConversationId::parse(&r.conversation) {
                    self.set_read(conversation, r.at);
                }
            }
            Incoming::Membership(mut m) => {
                let Source::Room { room, .. } = source else {
                    return;
                };
                if m.room != room.as_str() {
                    return;
                }
                m.conversation = ConversationId::Room(room.clone());
                self.judge.membership(&mut m);
                let live_copy = matches!(source, Source::Room { stored: false, .. });
                if live_copy && self.stream_shows(source) {
                    // The stream copy is shown; the live one only says "look again".
                    self.effect(Effect::MembershipHint { ours: false });
                    return;
                }
                if !self.seen.insert(&m.id) {
                    Counters::bump(&self.counters.duplicates_hidden, 1);
                    return;
                }
                self.effect(Effect::MembershipHint { ours: false });
                self.events.emit(Event::Membership(m));
            }
            Incoming::Presence { sender } => {
                if source == &Source::Presence {
                    self.effect(Effect::PresenceHint { user: sender });
                }
            }
            Incoming::Rooms { sender } => {
                if source == &Source::Signal && self.router.is_me(&sender) {
                    self.effect(Effect::MembershipHint { ours: true });
                }
            }
        }
    }

    /// Asks the effects task for `effect`. Hints beyond [`EFFECTS_LIMIT`] waiting are dropped
    /// and counted (a flood of hints needs no more of them); read positions never are.
    fn effect(&self, effect: Effect) {
        let hint = !matches!(effect, Effect::SaveRead { .. });
        if hint && self.effects_gauge.waiting() >= EFFECTS_LIMIT {
            self.gauge.drop_one();
            return;
        }
        self.effects_gauge.added();
        if self.effects.send(effect).is_err() {
            self.effects_gauge.taken(1);
        }
    }

    fn shown(&mut self) {
        if let Some(n) = &mut self.catching_up {
            *n += 1;
        }
    }

    fn unread_of(&mut self, conversation: &ConversationId) -> &mut Unread {
        if !self.unread.contains_key(conversation) {
            self.unread.insert(conversation.clone(), Unread::default());
        }
        if !self.dirty.contains(conversation) {
            self.dirty.insert(conversation.clone());
        }
        self.unread.get_mut(conversation).expect("inserted above")
    }

    fn count(&mut self, conversation: &ConversationId, at: i64, mine: bool, mention: bool) {
        let state = self.unread_of(conversation);
        state.newest = state.newest.max(at);
        if mine {
            // Writing in a conversation reads it.
            state.read_up_to(at);
            return;
        }
        if at > state.read_at {
            if state.pending.len() >= UNREAD_KEEP
                && let Some((_, m)) = state.pending.pop_front()
            {
                state.mentions -= usize::from(m);
            }
            state.pending.push_back((at, mention));
            state.mentions += usize::from(mention);
        }
    }

    fn set_read(&mut self, conversation: ConversationId, at: i64) {
        let state = self.unread_of(&conversation);
        if at > state.read_at {
            state.read_up_to(at);
        }
    }

    fn flush_unread(&mut self) {
        let dropped = self.gauge.take_dropped();
        if dropped > 0 {
            self.events.notice(
                NoticeCode::Overflow,
                format!(
                    "{dropped} live messages arrived faster than Redchat could read them and were left out (a flood?). Stored messages are still read from the streams."
                ),
            );
        }
        for user in std::mem::take(&mut self.blocked_dirty) {
            let count = self.blocked.get(&user).copied().unwrap_or(0);
            self.events.emit(Event::Blocked { user, count });
        }
        for conversation in std::mem::take(&mut self.dirty) {
            let Some(state) = self.unread.get_mut(&conversation) else {
                continue;
            };
            let counts = state.counts();
            if counts != state.shown {
                state.shown = counts;
                self.events.emit(Event::Unread {
                    conversation,
                    count: counts.0,
                    mentions: counts.1,
                });
            }
        }
    }
}
