// What the window shows, as plain data: conversations and their entries, presence, who is
// typing, read counts. No DOM here. Conversations are keyed by the ConversationId every
// message-like event carries (`@bob`, `#team`, `~messages`); nothing is worked out from
// sender, recipient or channel. Unread and mention counts are the core's (`unread` events),
// never counted here: the read position is shared by all devices of the user.

import { normaliseName } from "./compose";
import type { ChatMessage, ConversationId, HistoryCursor, Member, MemberList, Membership, Outgoing, OutgoingState, SessionEvent } from "./ipc";

export type ConversationKind = "direct" | "room" | "channel";

/** How long a typing signal shows unless repeated (the core repeats it every 3 s while typing). */
export const TYPING_MS = 6000;

/** A conversation's kind, from the first character of its id: `@` direct, `#` room, `~` channel. */
export function kindOf(id: ConversationId): ConversationKind {
  if (id.startsWith("@")) return "direct";
  if (id.startsWith("#")) return "room";
  return "channel";
}

/** What the sidebar calls it: `bob`, `#team`, `~messages` (a raw channel keeps its `~`, so
 * the channel `bob` never looks like the person bob). */
export function titleOf(id: ConversationId): string {
  return kindOf(id) === "direct" ? id.slice(1) : id;
}

export interface Entry {
  id: string;
  /** system: someone joined or left a room. */
  kind: "message" | "plain" | "unreadable" | "notice" | "system";
  /** Who wrote it (messages), the channel (plain/unreadable), who joined or left (system). */
  from: string;
  text: string;
  /** RFC 3339 time shown next to it. */
  time: string;
  /** Time order (ms since the epoch): the message's `at`, else the time received. */
  at: number;
  /** Sent by this user (from this or another device). */
  mine: boolean;
  /** A room message naming this user. */
  mention?: boolean;
  /** Where a message we sent stands (absent for our messages seen only in history or from another device). */
  delivery?: OutgoingState;
  /** Who a message we sent went to: the peer of a direct conversation, else the conversation id. */
  to?: string;
  /** Why sending it failed. */
  reason?: string;
  /** Extra line: the unreadable reason, a failed retry. */
  detail?: string;
  /** The original WPF client (no Redchat fields). */
  legacy?: boolean;
  /** When the sender sent it (RFC 3339), if it said. */
  sentAt?: string;
}

/**
 * Whether older messages of a conversation can be loaded. idle: yes, from `cursor` (null: from
 * the newest); end: nothing older; off: live-only mode keeps no history; none: raw channels
 * keep none.
 */
export type OlderState = "idle" | "loading" | "error" | "end" | "off" | "none";

export interface Older {
  state: OlderState;
  /** Cursor of this conversation's own history query (never one from another query). */
  cursor: HistoryCursor | null;
  error: string | null;
}

export interface Conversation {
  id: ConversationId;
  kind: ConversationKind;
  title: string;
  /** The other user of a direct conversation; null for rooms and channels. */
  peer: string | null;
  /** In time order, oldest first (live messages in the order they arrived). */
  entries: Entry[];
  /** From the core's `unread` events. */
  unread: number;
  mentions: number;
  /** When something last happened here (ms since the epoch), for ordering the sidebar. */
  lastActivity: number;
  /** Tie-breaker for `lastActivity`: higher is more recent. */
  seq: number;
  older: Older;
  /** Users typing here (normalised) and when their signal expires (ms since the epoch). */
  typing: Map<string, number>;
  /** Rooms: the member list, null until known. */
  members: Member[] | null;
  /** Rooms: garbage entries in the members set. */
  unreadableMembers: number;
  /** Rooms and channels: in the user's joined list. */
  joined: boolean;
}

export type Change =
  | { conversation: ConversationId; appended: Entry[] }
  | { conversation: ConversationId; updated: Entry }
  /** Older entries added before the first one. */
  | { conversation: ConversationId; prepended: Entry[] }
  /** Entries inserted among the existing ones: re-render. */
  | { conversation: ConversationId; reordered: true }
  /** Who is typing here changed. */
  | { conversation: ConversationId; typing: true }
  | { conversation: ConversationId; members: true }
  | { conversation: ConversationId; unread: true }
  /** The joined list changed. */
  | { joined: true }
  /** Someone's online state changed. */
  | { presence: true }
  /** The who list changed. */
  | { who: true };

/** The notice shown when a live-only message reached nobody. */
export function notDeliveredNotice(c: Pick<Conversation, "peer" | "id">): string {
  return c.peer !== null ? `${c.peer} is not active: the message was not delivered.` : `Nobody in ${c.id} is active: the message was not delivered.`;
}

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
  private seq = 0;
  private notices = 0;
  private historyOff = false;
  /** Arrival time of the batch being applied. */
  private now = 0;

  /** Conversations, most recently active first. */
  ordered(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity || b.seq - a.seq);
  }

  /** What the sidebar lists: direct conversations, the rooms/channels the user is in, the open one. */
  visible(): Conversation[] {
    // A channel we never joined still shows when something arrived on it (plain text on our
    // inbox from redis-cli, garbage on our own keys): never dropped from view.
    return this.ordered().filter(
      (c) => c.kind === "direct" || c.joined || c.id === this.active || (c.kind === "channel" && c.entries.length > 0),
    );
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
    c.entries.push(entry);
    c.lastActivity = Math.max(c.lastActivity, this.now);
    c.seq = ++this.seq;
    // One "appended" change per conversation and run: the view renders it from where it
    // stopped, so unread counts, typing or other conversations in between must not split it
    // (a second one would find the entries already in the model and wait below).
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
    for (const event of batch) {
      switch (event.kind) {
        case "chat": {
          const c = this.live(event.conversation);
          // A message from someone ends their typing signal.
          if (c.typing.delete(normaliseName(event.sender))) this.typingChanged(c, changes);
          if (this.messages.has(event.id)) break;
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
          const c = event.count > 0 || event.mentions > 0 ? this.conversation(event.conversation) : this.conversations.get(event.conversation);
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
        case "status":
        case "caughtUp":
        case "notice":
          break;
        default:
          // An event kind this UI does not know (a newer core): ignored.
          break;
      }
    }
    return changes;
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
    const who = this.me !== null && normaliseName(event.user) === this.me ? "You" : event.user;
    const text = `${who} ${event.action === "join" ? "joined" : "left"}`;
    this.append(this.live(event.conversation), {
      id: event.id,
      kind: "system",
      from: event.user,
      text,
      time: event.receivedAt,
      at: event.at,
      mine: false,
    }, changes);
  }

  /**
   * `send` put `message` in the outbox. Its `outgoing` events may have come first (or it came
   * back to us as a chat message): then the entry exists and keeps the newer state.
   */
  accepted(message: ChatMessage, now: number = Date.now()): Change[] {
    this.now = now;
    const known = this.messages.get(message.id);
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

  private outgoing(event: Outgoing, changes: Change[]): void {
    const known = this.messages.get(event.message.id);
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
    const entry = this.messageEntry(message, c);
    entry.mine = true;
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
    for (const m of messages) {
      if (this.messages.has(m.id)) continue;
      const c = this.conversation(m.conversation);
      const entry = this.messageEntry(m, c);
      this.messages.set(m.id, { entry, conversation: c.id });
      let group = groups.get(c.id);
      if (!group) groups.set(c.id, (group = []));
      group.push(entry);
    }
    const changes: Change[] = [];
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

  notice(id: ConversationId, text: string, changes: Change[] = []): Change[] {
    const c = this.conversation(id);
    this.now = Date.now();
    const time = new Date(this.now).toISOString();
    this.append(c, { id: `notice-${++this.notices}`, kind: "notice", from: "", text, time, at: this.now, mine: false }, changes);
    return changes;
  }

  private messageEntry(m: ChatMessage, c: Conversation): Entry {
    return {
      id: m.id,
      kind: "message",
      from: m.sender,
      text: m.content,
      time: m.receivedAt,
      at: orderOf(m),
      mine: m.mine === true,
      legacy: m.legacy,
      ...(m.mine ? { to: recipient(c) } : {}),
      ...(m.mentionsMe && c.kind === "room" ? { mention: true } : {}),
      ...(m.sentAt ? { sentAt: m.sentAt } : {}),
    };
  }
}

/** Who a message we sent in `c` went to, as delivery labels name it. */
function recipient(c: Conversation): string {
  return c.peer ?? c.id;
}
