// What the window shows, as plain data: conversations and their entries, presence, who is
// typing, read counts. No DOM here. Conversations are keyed by the ConversationId every
// message-like event carries (`@bob`, `#team`, `~messages`); nothing is worked out from
// sender, recipient or channel. Unread and mention counts are the core's (`unread` events),
// never counted here: the read position is shared by all devices of the user.

import { normaliseName } from "./compose";
import { kindOf, notDeliveredNotice, titleOf, TYPING_MS, type Change, type Conversation, type ConversationKind, type Entry, type Older, type OlderState } from "./conversation";
import type { ChatMessage, ConversationId, HistoryCursor, Member, MemberList, Membership, Outgoing, OutgoingState, SessionEvent, Trust } from "./ipc";
import { isRequest, MAX_REQUEST_MESSAGES, MAX_REQUESTS, RequestLedger, type RequestState } from "./requests";
import { isAuthentic, keyChangedText, membershipWarning, trustOf, visibleName } from "./trust";

export * from "./conversation";

/**
 * Entries a conversation keeps in memory: what is on screen plus a margin. Older ones are
 * dropped (the local store has them; scrolling up reads them back). TRIM_SLACK more are
 * allowed before trimming, so it happens in chunks rather than per message.
 */
export const KEEP = 1000;
export const TRIM_SLACK = 250;

/** Key change announcements kept while waiting for their message. */
const PENDING_KEY_CHANGES = 1000;

function orderOf(m: ChatMessage): number {
  if (typeof m.at === "number" && Number.isFinite(m.at)) return m.at;
  const sent = m.sentAt ? Date.parse(m.sentAt) : Number.NaN;
  if (!Number.isNaN(sent)) return sent;
  const received = Date.parse(m.receivedAt);
  return Number.isNaN(received) ? 0 : received;
}

/** Merges `fresh` (sorted by `at`) into `entries`, keeping the order of the existing entries. */
function mergeByTime(entries: Entry[], fresh: Entry[]): Entry[] {
  const out: Entry[] = [];
  let i = 0;
  for (const entry of entries) {
    while (i < fresh.length && (fresh[i] as Entry).at < entry.at) out.push(fresh[i++] as Entry);
    out.push(entry);
  }
  while (i < fresh.length) out.push(fresh[i++] as Entry);
  return out;
}

export class ChatModel {
  me: string | null = null;
  active: ConversationId | null = null;
  readonly conversations = new Map<ConversationId, Conversation>();
  /** Latest known online state per user (presence, members and who events, in stream order). */
  readonly presence = new Map<string, Member>();
  /** Everyone online (and recently seen), from the last `who` event. */
  who: Member[] = [];
  /**
   * A `joined` list has arrived this session. Until then a room with live traffic counts as
   * joined (we only hear rooms we are in); afterwards the list alone decides.
   */
  joinedKnown = false;
  /** Every chat message we hold, by id: de-duplicates and finds a sent message's entry. */
  private readonly messages = new Map<string, { entry: Entry; conversation: ConversationId }>();
  /** Ids of membership lines held (de-duplication). */
  private readonly systemIds = new Set<string>();
  /** Ids of our messages in the "queued" state. */
  readonly queued = new Set<string>();
  /** What the Requests section leaves out, and blocked senders' counts. */
  readonly ledger = new RequestLedger();
  /** Conversations in the "request" state. */
  private readonly requestIds = new Set<ConversationId>();
  /**
   * Key changes announced for conversations not held yet, by conversation: the core announces
   * one just before the message signed with the new key, which may be the first one here.
   */
  private readonly pendingKeyChanges = new Map<ConversationId, string>();
  /** The changes array being applied, and its runs of appended entries per conversation. */
  private runs: { changes: Change[]; appended: Map<ConversationId, Entry[]> } | null = null;
  private seq = 0;
  private notices = 0;
  private historyOff = false;
  /** Arrival time of the batch being applied. */
  private now = 0;

  /** The conversation id `name` (`#team`, `team`, `~messages`) means, matching known ones case-blind. */
  idFor(name: string): ConversationId {
    const id = name.startsWith("#") || name.startsWith("~") || name.startsWith("@") ? name : `#${name}`;
    const lower = id.toLowerCase();
    for (const c of this.conversations.values()) if (c.id.toLowerCase() === lower) return c.id;
    return id;
  }

  /** Conversations, most recently active first. */
  ordered(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity || b.seq - a.seq);
  }

  /**
   * What the sidebar lists under Rooms and Direct messages: direct conversations that are not
   * requests, the rooms/channels the user is in, the open one (unless it is a request).
   */
  visible(): Conversation[] {
    // A channel we never joined still shows when something arrived on it (plain text on our
    // inbox from redis-cli, garbage on our own keys): never dropped from view.
    return this.ordered().filter(
      (c) =>
        c.request !== "request" &&
        (c.kind === "direct" || c.joined || c.id === this.active || (c.kind === "channel" && c.entries.length > 0)),
    );
  }

  /** Message requests, most recent first. */
  requestList(): Conversation[] {
    const list: Conversation[] = [];
    for (const id of this.requestIds) {
      const c = this.conversations.get(id);
      if (c) list.push(c);
    }
    return list.sort((a, b) => b.lastActivity - a.lastActivity || b.seq - a.seq);
  }

  /** How many request conversations are held. */
  get requestCount(): number {
    return this.requestIds.size;
  }

  private setRequest(c: Conversation, state: RequestState): void {
    c.request = state;
    if (state === "request") this.requestIds.add(c.id);
    else this.requestIds.delete(c.id);
  }

  /** The user accepted request `id` (or wrote to them): a normal conversation. */
  accept(id: ConversationId): void {
    this.ledger.unblock(id);
    this.ledger.admitted(id);
    const c = this.conversations.get(id);
    if (c && c.kind === "direct") this.setRequest(c, "normal");
  }

  /** The user blocked the person of `id`: the conversation and its messages go. */
  block(id: ConversationId): void {
    this.ledger.block(id);
    const c = this.conversations.get(id);
    if (!c) return;
    this.forget(c);
    if (this.active === id) this.active = null;
  }

  /** The user unblocked the person of `id`. */
  unblock(id: ConversationId): void {
    this.ledger.unblock(id);
  }

  /** Removes conversation `c` and everything held for it. */
  private forget(c: Conversation): void {
    for (const e of c.entries) {
      if (this.messages.get(e.id)?.conversation === c.id) this.messages.delete(e.id);
      this.queued.delete(e.id);
    }
    this.requestIds.delete(c.id);
    this.conversations.delete(c.id);
    this.runs?.appended.delete(c.id);
  }

  /**
   * The conversation message `m` goes to, or null when it is left out: a request beyond the
   * caps (counted), or a message for a conversation blocked here that was on its way. `live`:
   * a live event (see `joinedKnown`), not history.
   */
  private admit(m: ChatMessage, live: boolean): Conversation | null {
    const id = m.conversation;
    if (kindOf(id) !== "direct") return live ? this.live(id) : this.conversation(id);
    const request = isRequest(m);
    if (this.ledger.isBlocked(id) && !m.mine) {
      this.ledger.droppedBlocked();
      return null;
    }
    let c = this.conversations.get(id);
    if (c?.request === "normal") return c;
    if (!request) {
      c ??= this.conversation(id);
      this.ledger.admitted(id);
      this.setRequest(c, "normal");
      return c;
    }
    if (c?.request === "request") {
      if (c.entries.length < MAX_REQUEST_MESSAGES) return c;
      this.ledger.drop(id, false);
      return null;
    }
    // A new request (or the first message of a conversation nothing has decided yet: kept when
    // it is open).
    if (c?.id !== this.active && this.requestIds.size >= MAX_REQUESTS) {
      this.ledger.drop(id, true);
      if (c) this.forget(c);
      return null;
    }
    c ??= this.conversation(id);
    this.ledger.admitted(id);
    this.setRequest(c, "request");
    return c;
  }

  /** The conversation `id`, created empty if new. */
  conversation(id: ConversationId): Conversation {
    let c = this.conversations.get(id);
    if (!c) {
      const kind = kindOf(id);
      c = {
        id,
        kind,
        title: titleOf(id),
        peer: kind === "direct" ? id.slice(1) : null,
        entries: [],
        unread: 0,
        mentions: 0,
        lastActivity: 0,
        seq: 0,
        older: this.initialOlder(kind),
        typing: new Map(),
        members: null,
        unreadableMembers: 0,
        joined: false,
        request: kind === "direct" ? "none" : "normal",
      };
      this.conversations.set(id, c);
    }
    return c;
  }

  /** Opens (creating if needed) conversation `id`. */
  open(id: ConversationId): Conversation {
    const c = this.conversation(id);
    this.select(id);
    return c;
  }

  select(id: ConversationId | null): void {
    this.active = id;
  }

  /** Marks room/channel `id` joined or left (from join/leave replies; `joined` events set all). */
  setJoined(id: ConversationId, joined: boolean): void {
    this.conversation(id).joined = joined;
  }

  /** Forgets everything (another user connected). */
  clear(): void {
    this.conversations.clear();
    this.messages.clear();
    this.systemIds.clear();
    this.queued.clear();
    this.presence.clear();
    this.who = [];
    this.joinedKnown = false;
    this.active = null;
    this.historyOff = false;
    this.ledger.clear();
    this.requestIds.clear();
    this.pendingKeyChanges.clear();
  }

  /** Live-only mode keeps no history; every conversation not loading right now starts over. */
  setHistoryOff(off: boolean): void {
    this.historyOff = off;
    for (const c of this.conversations.values()) {
      if (c.older.state !== "loading") c.older = this.initialOlder(c.kind);
    }
  }

  private initialOlder(kind: ConversationKind): Older {
    const state: OlderState = kind === "channel" ? "none" : this.historyOff ? "off" : "idle";
    return { state, cursor: null, error: null };
  }

  /** Users typing in `id` at time `now`, in the order they started; expired signals are dropped. */
  typingUsers(id: ConversationId | null, now: number): string[] {
    const c = id === null ? undefined : this.conversations.get(id);
    if (!c) return [];
    for (const [user, expires] of c.typing) if (expires <= now) c.typing.delete(user);
    return [...c.typing.keys()];
  }

  /** When the next typing signal in `id` expires, or null when nobody is typing. */
  nextTypingExpiry(id: ConversationId | null): number | null {
    const c = id === null ? undefined : this.conversations.get(id);
    if (!c || c.typing.size === 0) return null;
    return Math.min(...c.typing.values());
  }

  private append(c: Conversation, entry: Entry, changes: Change[]): void {
    if (c.detached) {
      // Not shown while older messages are (the store has it): only the sidebar moves.
      c.lastActivity = Math.max(c.lastActivity, this.now);
      c.seq = ++this.seq;
      if (entry.kind === "message" && this.messages.get(entry.id)?.entry === entry) this.messages.delete(entry.id);
      return;
    }
    c.entries.push(entry);
    c.lastActivity = Math.max(c.lastActivity, this.now);
    c.seq = ++this.seq;
    // One "appended" change per conversation and run: the view renders it from where it
    // stopped, so unread counts, typing or other conversations in between must not split it
    // (a second one would find the entries already in the model and wait below). In a batch
    // being applied (nothing moves entries there) the run is looked up, not searched for: a
    // batch touching thousands of conversations stays linear.
    if (this.runs?.changes === changes) {
      const run = this.runs.appended.get(c.id);
      if (run) run.push(entry);
      else {
        const appended = [entry];
        this.runs.appended.set(c.id, appended);
        changes.push({ conversation: c.id, appended });
      }
      return;
    }
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i] as Change;
      if (!("conversation" in change) || change.conversation !== c.id) continue;
      if ("appended" in change) {
        change.appended.push(entry);
        return;
      }
      // Only changes that move entries (older ones before, a re-sort) end the run.
      if ("prepended" in change || "reordered" in change) break;
    }
    changes.push({ conversation: c.id, appended: [entry] });
  }

  /** The conversation of a live event (see `joinedKnown`). */
  private live(id: ConversationId): Conversation {
    const c = this.conversation(id);
    if (!this.joinedKnown && c.kind !== "direct") c.joined = true;
    return c;
  }

  private typingChanged(c: Conversation, changes: Change[]): void {
    const last = changes[changes.length - 1];
    if (last && "typing" in last && last.conversation === c.id) return;
    changes.push({ conversation: c.id, typing: true });
  }

  private seen(member: Member): void {
    this.presence.set(normaliseName(member.user), { user: member.user, online: member.online, lastSeen: member.lastSeen });
  }

  /**
   * Applies a batch of session events at time `now` (status, caughtUp and notice events are
   * not kept here).
   */
  apply(batch: SessionEvent[], now: number = Date.now()): Change[] {
    const changes: Change[] = [];
    this.now = now;
    this.runs = { changes, appended: new Map() };
    try {
      this.applyEach(batch, changes);
    } finally {
      this.runs = null;
    }
    return changes;
  }

  private applyEach(batch: SessionEvent[], changes: Change[]): void {
    const now = this.now;
    for (const event of batch) {
      switch (event.kind) {
        case "chat": {
          if (this.messages.has(event.id)) {
            // A message from someone ends their typing signal.
            const known = this.conversations.get(event.conversation);
            if (known?.typing.delete(normaliseName(event.sender))) this.typingChanged(known, changes);
            break;
          }
          const c = this.admit(event, true);
          const keyChange = this.pendingKeyChanges.get(event.conversation);
          this.pendingKeyChanges.delete(event.conversation);
          if (!c) {
            requestsChanged(changes);
            break;
          }
          if (keyChange !== undefined) this.keyChanged(c.id, keyChange, changes);
          if (c.typing.delete(normaliseName(event.sender))) this.typingChanged(c, changes);
          const entry = this.messageEntry(event, c);
          this.messages.set(event.id, { entry, conversation: c.id });
          this.append(c, entry, changes);
          break;
        }
        case "outgoing":
          this.outgoing(event, changes);
          break;
        case "plain":
          this.append(this.live(event.conversation), {
            id: event.id,
            kind: "plain",
            from: `~${event.channel}`,
            text: event.text,
            time: event.receivedAt,
            at: now,
            mine: false,
          }, changes);
          break;
        case "unreadable":
          this.append(this.live(event.conversation), {
            id: event.id,
            kind: "unreadable",
            from: `~${event.channel}`,
            text: event.preview,
            detail: `Unreadable message (${event.reason}, ${event.size} bytes)`,
            time: event.receivedAt,
            at: now,
            mine: false,
          }, changes);
          break;
        case "membership":
          this.membership(event, changes);
          break;
        case "typing": {
          // Only for conversations shown somewhere; a signal is no reason to start one.
          const c = this.conversations.get(event.conversation);
          const user = normaliseName(event.user);
          if (!c || user === this.me) break;
          c.typing.set(user, now + TYPING_MS);
          this.typingChanged(c, changes);
          break;
        }
        case "presence":
          this.seen(event);
          changes.push({ presence: true });
          break;
        case "unread": {
          // Counts for a conversation left out (too many requests, blocked here) create nothing.
          const create = (event.count > 0 || event.mentions > 0) && !this.ledger.wasDropped(event.conversation);
          const c = create ? this.conversation(event.conversation) : this.conversations.get(event.conversation);
          if (!c) break;
          c.unread = Math.max(0, event.count);
          c.mentions = Math.max(0, event.mentions);
          changes.push({ conversation: c.id, unread: true });
          break;
        }
        case "joined": {
          const ids = new Set(event.conversations);
          for (const id of ids) this.conversation(id).joined = true;
          for (const c of this.conversations.values()) if (c.kind !== "direct" && !ids.has(c.id)) c.joined = false;
          this.joinedKnown = true;
          changes.push({ joined: true });
          break;
        }
        case "members":
          this.setMembers(event.conversation, event, changes);
          break;
        case "who":
          this.setWho(event.users, changes);
          break;
        case "keyChanged":
          this.keyChanged(event.conversation, event.user, changes);
          break;
        case "blocked":
          this.ledger.blocked(normaliseName(String(event.user)), Number(event.count));
          requestsChanged(changes);
          break;
        case "status":
        case "caughtUp":
        case "notice":
          break;
        default:
          // An event kind this UI does not know (a newer core): ignored.
          break;
      }
    }
  }

  /** A system line in `id`: `user`'s key changed (the message signed with it follows). */
  private keyChanged(id: ConversationId, user: string, changes: Change[]): void {
    const c = this.conversations.get(id);
    if (!c) {
      // Shown with the message that follows it (if that one is kept); a hostile stream of
      // announcements alone creates nothing.
      if (!this.ledger.wasDropped(id) && this.pendingKeyChanges.size < PENDING_KEY_CHANGES) this.pendingKeyChanges.set(id, user);
      return;
    }
    if (kindOf(id) !== "direct") this.live(id);
    if (c.request === "request" && c.entries.length >= MAX_REQUEST_MESSAGES) return;
    const isMe = this.me !== null && normaliseName(user) === this.me;
    this.append(c, {
      id: `key-changed-${++this.notices}`,
      kind: "system",
      keyChange: true,
      from: user,
      text: keyChangedText(user, isMe),
      time: new Date(this.now).toISOString(),
      at: this.now,
      mine: false,
    }, changes);
    changes.push({ keyChanged: normaliseName(user) });
  }

  /** Everyone online (a `who` event, or the reply to `who`). */
  setWho(users: Member[], changes: Change[] = []): Change[] {
    this.who = users;
    for (const member of users) this.seen(member);
    changes.push({ who: true }, { presence: true });
    return changes;
  }

  /** The member list of room `id` (a `members` event, or the reply to `members`). */
  setMembers(id: ConversationId, list: MemberList, changes: Change[] = []): Change[] {
    const c = this.live(id);
    c.members = list.members;
    c.unreadableMembers = list.unreadable;
    for (const member of list.members) this.seen(member);
    changes.push({ conversation: id, members: true }, { presence: true });
    return changes;
  }

  private membership(event: Membership, changes: Change[]): void {
    if (this.systemIds.has(event.id)) return;
    this.systemIds.add(event.id);
    const trust = trustOf(event.trust);
    const isMe = this.me !== null && normaliseName(event.user) === this.me;
    // "You" only when signed by our key; anything else naming us is a claim, and says so.
    const who = isMe ? (isAuthentic(trust) ? "You" : `${visibleName(event.user)} (claims to be you — not signed by your key)`) : visibleName(event.user);
    const warning = membershipWarning(trust);
    const text = `${who} ${event.action === "join" ? "joined" : "left"}${warning ? ` — ${warning}` : ""}`;
    this.append(this.live(event.conversation), {
      id: event.id,
      kind: "system",
      from: event.user,
      text,
      time: event.receivedAt,
      at: event.at,
      mine: false,
      trust,
    }, changes);
  }

  /**
   * `send` put `message` in the outbox. Its `outgoing` events may have come first (or it came
   * back to us as a chat message): then the entry exists and keeps the newer state.
   */
  accepted(message: ChatMessage, now: number = Date.now()): Change[] {
    this.now = now;
    const known = this.mineById(message.id);
    if (known) {
      if (known.entry.delivery !== undefined) return [];
      this.setState(known.entry, "queued", null);
      return [{ conversation: known.conversation, updated: known.entry }];
    }
    const changes: Change[] = [];
    this.addSent(message, "queued", null, changes);
    return changes;
  }

  /** Retrying `id` failed before it was queued again. */
  retryFailed(id: string, reason: string): Change[] {
    const known = this.messages.get(id);
    if (!known) return [];
    known.entry.detail = `Retry failed: ${reason}`;
    return [{ conversation: known.conversation, updated: known.entry }];
  }

  /** Our held message `id` (never a received one that happens to carry the same id). */
  private mineById(id: string): { entry: Entry; conversation: ConversationId } | undefined {
    const known = this.messages.get(id);
    return known?.entry.mine ? known : undefined;
  }

  private outgoing(event: Outgoing, changes: Change[]): void {
    const known = this.mineById(event.message.id);
    if (!known) {
      // Not sent from this window (left in the outbox by an earlier run), or the event beat
      // the reply to `send`.
      const c = this.addSent(event.message, event.state, event.reason, changes);
      if (event.state === "notDelivered") this.notice(c.id, notDeliveredNotice(c), changes);
      return;
    }
    const { entry } = known;
    const c = this.conversation(known.conversation);
    const was = entry.delivery;
    entry.mine = true;
    entry.to ??= recipient(c);
    this.setState(entry, event.state, event.reason);
    delete entry.detail;
    changes.push({ conversation: c.id, updated: entry });
    if (event.state === "notDelivered" && was !== "notDelivered") this.notice(c.id, notDeliveredNotice(c), changes);
  }

  private addSent(message: ChatMessage, state: OutgoingState, reason: string | null, changes: Change[]): Conversation {
    const c = this.conversation(message.conversation);
    // We wrote to them: a conversation, not a request (and not blocked any more).
    this.accept(c.id);
    const entry = this.messageEntry({ ...message, mine: true }, c);
    entry.to = recipient(c);
    this.setState(entry, state, reason);
    this.messages.set(message.id, { entry, conversation: c.id });
    this.append(c, entry, changes);
    return c;
  }

  private setState(entry: Entry, state: OutgoingState, reason: string | null): void {
    entry.delivery = state;
    if (reason) entry.reason = reason;
    else delete entry.reason;
    if (state === "queued") this.queued.add(entry.id);
    else this.queued.delete(entry.id);
  }

  /**
   * Adds history (any order, any conversations): messages already held are skipped, the rest
   * go in time order (`at`). History is never unread (the core counts that).
   */
  mergeHistory(messages: ChatMessage[]): Change[] {
    const groups = new Map<ConversationId, Entry[]>();
    let dropped = false;
    for (const m of messages) {
      if (this.messages.has(m.id)) continue;
      const c = this.admit(m, false);
      if (!c) {
        dropped = true;
        continue;
      }
      const entry = this.messageEntry(m, c);
      this.messages.set(m.id, { entry, conversation: c.id });
      let group = groups.get(c.id);
      if (!group) groups.set(c.id, (group = []));
      group.push(entry);
    }
    const changes: Change[] = dropped ? [{ requests: true }] : [];
    for (const [id, fresh] of groups) {
      const c = this.conversation(id);
      fresh.sort((a, b) => a.at - b.at);
      const newest = (fresh[fresh.length - 1] as Entry).at;
      c.lastActivity = Math.max(c.lastActivity, newest);
      const first = c.entries[0];
      if (!first || newest <= first.at) {
        c.entries.unshift(...fresh);
        changes.push({ conversation: id, prepended: fresh });
      } else {
        c.entries = mergeByTime(c.entries, fresh);
        changes.push({ conversation: id, reordered: true });
      }
    }
    return changes;
  }

  /**
   * Drops the oldest entries of conversation `id` beyond KEEP (none below KEEP + TRIM_SLACK),
   * at most `limit` of them (the view's first rendered row), so that its older history loads
   * back from the local store. Cuts where the time changes, so the cursor (strictly older than
   * the first kept entry) brings back exactly what went. Returns how many were dropped.
   */
  trim(id: ConversationId, limit: number): number {
    const c = this.conversations.get(id);
    if (!c || c.detached || c.older.state === "loading" || c.kind === "channel" || this.historyOff) return 0;
    const excess = c.entries.length - KEEP;
    if (excess < TRIM_SLACK) return 0;
    let k = Math.min(excess, limit);
    while (k > 0 && k < c.entries.length && (c.entries[k] as Entry).at === (c.entries[k - 1] as Entry).at) k--;
    if (k <= 0) return 0;
    for (const gone of c.entries.splice(0, k)) {
      if (this.messages.get(gone.id)?.entry === gone) this.messages.delete(gone.id);
    }
    const first = c.entries[0] as Entry;
    c.older = { state: "idle", cursor: { local: String(first.at) }, error: null };
    return k;
  }

  /** Shows `messages` (a search hit and its neighbours) instead of conversation `id`'s entries. */
  showContext(id: ConversationId, messages: ChatMessage[], more: HistoryCursor | null, newer: boolean): Change[] {
    const c = this.conversation(id);
    this.forgetEntries(c);
    const changes = this.mergeHistory(messages);
    c.older = { state: more ? "idle" : "end", cursor: more, error: null };
    c.detached = newer;
    changes.push({ conversation: id, reordered: true });
    return changes;
  }

  /** Back to conversation `id`'s newest messages: its entries are emptied, to be loaded again. */
  toLatest(id: ConversationId): Change[] {
    const c = this.conversation(id);
    this.forgetEntries(c);
    c.detached = false;
    c.older = this.initialOlder(c.kind);
    return [{ conversation: id, reordered: true }];
  }

  private forgetEntries(c: Conversation): void {
    for (const gone of c.entries) {
      if (this.messages.get(gone.id)?.entry === gone) this.messages.delete(gone.id);
    }
    c.entries = [];
  }

  notice(id: ConversationId, text: string, changes: Change[] = []): Change[] {
    const c = this.conversation(id);
    this.now = Date.now();
    const time = new Date(this.now).toISOString();
    this.append(c, { id: `notice-${++this.notices}`, kind: "notice", from: "", text, time, at: this.now, mine: false }, changes);
    return changes;
  }

  private messageEntry(m: ChatMessage, c: Conversation): Entry {
    const mine = m.mine === true;
    // Ours are signed by our key by definition (a reply to send has not been judged).
    const trust: Trust = mine ? (m.trust === "verified" ? "verified" : "signed") : trustOf(m.trust);
    const claimsMe = !mine && this.me !== null && normaliseName(m.sender) === this.me;
    return {
      id: m.id,
      kind: "message",
      from: m.sender,
      text: m.content,
      time: m.receivedAt,
      at: orderOf(m),
      mine,
      trust,
      legacy: m.legacy,
      ...(claimsMe ? { claimsMe: true } : {}),
      ...(typeof m.senderIssue === "string" && m.senderIssue ? { senderIssue: m.senderIssue } : {}),
      ...(typeof m.lookalike === "string" && m.lookalike ? { lookalike: m.lookalike } : {}),
      ...(m.mine ? { to: recipient(c) } : {}),
      ...(m.mentionsMe && c.kind === "room" ? { mention: true } : {}),
      ...(m.sentAt ? { sentAt: m.sentAt } : {}),
    };
  }
}

/** The Requests section's counts changed (one change for a run of them). */
function requestsChanged(changes: Change[]): void {
  const last = changes[changes.length - 1];
  if (!last || !("requests" in last)) changes.push({ requests: true });
}

/** Who a message we sent in `c` went to, as delivery labels name it. */
function recipient(c: Conversation): string {
  return c.peer ?? c.id;
}
