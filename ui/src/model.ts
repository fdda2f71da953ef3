// What the window shows, as plain data: conversations and their entries. No DOM here.

import { addressLine, normaliseName } from "./compose";
import type { ChatMessage, HistoryCursor, Outgoing, OutgoingState, SessionEvent } from "./ipc";

export interface Entry {
  id: string;
  kind: "message" | "plain" | "unreadable" | "notice";
  /** Who wrote it (messages), or the channel (plain/unreadable). */
  from: string;
  text: string;
  /** RFC 3339 time shown next to it. */
  time: string;
  /** Time order (ms since the epoch): sentAt when the sender said, else the time received. */
  at: number;
  mine: boolean;
  /** Where a message we sent stands (absent for our messages seen only in history). */
  delivery?: OutgoingState;
  /** Who a message we sent went to. */
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
 * the newest); end: nothing older; off: live-only mode keeps no history; none: not a
 * conversation with a person (raw channels).
 */
export type OlderState = "idle" | "loading" | "error" | "end" | "off" | "none";

export interface Older {
  state: OlderState;
  cursor: HistoryCursor | null;
  error: string | null;
}

export interface Conversation {
  key: string;
  title: string;
  /** Username to send to from this conversation; null for raw channels. */
  peer: string | null;
  /** In time order, oldest first (live messages in the order they arrived). */
  entries: Entry[];
  unread: number;
  /** When something last happened here (ms since the epoch), for ordering the sidebar. */
  lastActivity: number;
  /** Tie-breaker for `lastActivity`: higher is more recent. */
  seq: number;
  older: Older;
}

export type Change =
  | { conversation: string; appended: Entry[] }
  | { conversation: string; updated: Entry }
  /** Older entries added before the first one. */
  | { conversation: string; prepended: Entry[] }
  /** Entries inserted among the existing ones: re-render. */
  | { conversation: string; reordered: true };

/** The notice shown when a live-only message reached nobody. */
export function notDeliveredNotice(peer: string): string {
  return `${peer} is not active: the message was not delivered.`;
}

function orderOf(m: ChatMessage): number {
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

/** Conversations keyed by peer (`bob`) or raw channel (`#messages`). */
export class ChatModel {
  me: string | null = null;
  active: string | null = null;
  readonly conversations = new Map<string, Conversation>();
  /** Every chat message we hold, by id: de-duplicates and finds a sent message's entry. */
  private readonly messages = new Map<string, { entry: Entry; key: string }>();
  /** Ids of our messages in the "queued" state. */
  readonly queued = new Set<string>();
  private seq = 0;
  private notices = 0;
  /** Position below everything loaded (undefined: unknown, null: nothing older). */
  private historyBase: HistoryCursor | null | undefined = undefined;
  private historyOff = false;
  /** Arrival time of the batch being applied. */
  private now = 0;

  /** Conversations, most recently active first. */
  ordered(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity || b.seq - a.seq);
  }

  conversation(key: string, title: string, peer: string | null): Conversation {
    let c = this.conversations.get(key);
    if (!c) {
      c = { key, title, peer, entries: [], unread: 0, lastActivity: 0, seq: 0, older: this.initialOlder(peer) };
      this.conversations.set(key, c);
    }
    return c;
  }

  /** Opens (creating if needed) the conversation with `peer`. */
  open(peer: string): Conversation {
    const c = this.conversation(peer, `@${peer}`, peer);
    this.select(c.key);
    return c;
  }

  select(key: string | null): void {
    this.active = key;
    const c = key ? this.conversations.get(key) : undefined;
    if (c) c.unread = 0;
  }

  /** Forgets everything (another user connected). */
  clear(): void {
    this.conversations.clear();
    this.messages.clear();
    this.queued.clear();
    this.active = null;
    this.historyBase = undefined;
    this.historyOff = false;
  }

  /**
   * What is known about history after connecting: `base` is the cursor below the newest page
   * (null: nothing older, undefined: not loaded); `off` in live-only mode. Every conversation
   * not loading right now starts over from there.
   */
  setHistory(base: HistoryCursor | null | undefined, off: boolean): void {
    this.historyBase = base;
    this.historyOff = off;
    for (const c of this.conversations.values()) {
      if (c.older.state !== "loading") c.older = this.initialOlder(c.peer);
    }
  }

  private initialOlder(peer: string | null): Older {
    const state: OlderState =
      peer === null ? "none" : this.historyOff ? "off" : this.historyBase === null ? "end" : "idle";
    return { state, cursor: this.historyBase ?? null, error: null };
  }

  private append(c: Conversation, entry: Entry, changes: Change[]): void {
    c.entries.push(entry);
    c.lastActivity = Math.max(c.lastActivity, this.now);
    c.seq = ++this.seq;
    if (c.key !== this.active && !entry.mine) c.unread += 1;
    const last = changes[changes.length - 1];
    if (last && "appended" in last && last.conversation === c.key) last.appended.push(entry);
    else changes.push({ conversation: c.key, appended: [entry] });
  }

  /** Applies a batch of session events (status, caughtUp and notice events are not kept here). */
  apply(batch: SessionEvent[]): Change[] {
    const changes: Change[] = [];
    this.now = Date.now();
    for (const event of batch) {
      switch (event.kind) {
        case "chat": {
          if (this.messages.has(event.id)) break;
          const key = this.peerOf(event);
          const entry = this.messageEntry(event);
          this.messages.set(event.id, { entry, key });
          this.append(this.peerConversation(key), entry, changes);
          break;
        }
        case "outgoing":
          this.outgoing(event, changes);
          break;
        case "plain":
          this.append(this.channelConversation(event.channel), {
            id: event.id,
            kind: "plain",
            from: `#${event.channel}`,
            text: event.text,
            time: event.receivedAt,
            at: this.now,
            mine: false,
          }, changes);
          break;
        case "unreadable":
          this.append(this.channelConversation(event.channel), {
            id: event.id,
            kind: "unreadable",
            from: `#${event.channel}`,
            text: event.preview,
            detail: `Unreadable message (${event.reason}, ${event.size} bytes)`,
            time: event.receivedAt,
            at: this.now,
            mine: false,
          }, changes);
          break;
        case "status":
        case "caughtUp":
        case "notice":
          break;
      }
    }
    return changes;
  }

  /**
   * `send` put `message` in the outbox. Its `outgoing` events may have come first (or it came
   * back to us as a chat message): then the entry exists and keeps the newer state.
   */
  accepted(message: ChatMessage): Change[] {
    this.now = Date.now();
    const known = this.messages.get(message.id);
    if (known) {
      if (known.entry.delivery !== undefined) return [];
      this.setState(known.entry, "queued", null);
      return [{ conversation: known.key, updated: known.entry }];
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
    return [{ conversation: known.key, updated: known.entry }];
  }

  private outgoing(event: Outgoing, changes: Change[]): void {
    const known = this.messages.get(event.message.id);
    if (!known) {
      // Not sent from this window (left in the outbox by an earlier run), or the event beat
      // the reply to `send`.
      const key = this.addSent(event.message, event.state, event.reason, changes);
      if (event.state === "notDelivered") this.notice(key, notDeliveredNotice(key), changes);
      return;
    }
    const { entry, key } = known;
    const was = entry.delivery;
    entry.mine = true;
    entry.to ??= key;
    this.setState(entry, event.state, event.reason);
    delete entry.detail;
    changes.push({ conversation: key, updated: entry });
    if (event.state === "notDelivered" && was !== "notDelivered") this.notice(key, notDeliveredNotice(key), changes);
  }

  private addSent(message: ChatMessage, state: OutgoingState, reason: string | null, changes: Change[]): string {
    const key = this.recipientOf(message);
    const entry = this.messageEntry(message);
    entry.mine = true;
    entry.to = key;
    this.setState(entry, state, reason);
    this.messages.set(message.id, { entry, key });
    this.append(this.peerConversation(key), entry, changes);
    return key;
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
   * go in time order (sentAt, else receivedAt). History is never unread.
   */
  mergeHistory(messages: ChatMessage[]): Change[] {
    const groups = new Map<string, Entry[]>();
    for (const m of messages) {
      if (this.messages.has(m.id)) continue;
      const key = this.peerOf(m);
      const entry = this.messageEntry(m);
      this.messages.set(m.id, { entry, key });
      let group = groups.get(key);
      if (!group) groups.set(key, (group = []));
      group.push(entry);
    }
    const changes: Change[] = [];
    for (const [key, fresh] of groups) {
      const c = this.peerConversation(key);
      fresh.sort((a, b) => a.at - b.at);
      const newest = (fresh[fresh.length - 1] as Entry).at;
      c.lastActivity = Math.max(c.lastActivity, newest);
      const first = c.entries[0];
      if (!first || newest <= first.at) {
        c.entries.unshift(...fresh);
        changes.push({ conversation: key, prepended: fresh });
      } else {
        c.entries = mergeByTime(c.entries, fresh);
        changes.push({ conversation: key, reordered: true });
      }
    }
    return changes;
  }

  notice(key: string, text: string, changes: Change[] = []): Change[] {
    const channel = key.startsWith("#");
    const c = this.conversations.get(key) ?? this.conversation(key, channel ? key : `@${key}`, channel ? null : key);
    this.now = Date.now();
    const time = new Date(this.now).toISOString();
    this.append(c, { id: `notice-${++this.notices}`, kind: "notice", from: "", text, time, at: this.now, mine: false }, changes);
    return changes;
  }

  private messageEntry(m: ChatMessage): Entry {
    return {
      id: m.id,
      kind: "message",
      from: m.sender,
      text: m.content,
      time: m.receivedAt,
      at: orderOf(m),
      mine: this.isMine(m),
      legacy: m.legacy,
      ...(m.sentAt ? { sentAt: m.sentAt } : {}),
    };
  }

  private isMine(m: ChatMessage): boolean {
    return this.me !== null && normaliseName(m.sender) === this.me;
  }

  /** The conversation a message belongs to: the sender's, or for our own, the recipient's. */
  private peerOf(m: ChatMessage): string {
    // Our own message coming back (sent to ourselves, from another device, or in history).
    if (this.isMine(m)) return this.recipientOf(m);
    return normaliseName(m.sender);
  }

  /** Who a message went to: its `to`, else the `@name` its text starts with. */
  private recipientOf(m: ChatMessage): string {
    if (m.to) return normaliseName(m.to);
    const addressed = addressLine(m.content, null);
    return addressed.ok ? addressed.to : normaliseName(m.sender);
  }

  private peerConversation(peer: string): Conversation {
    return this.conversation(peer, `@${peer}`, peer);
  }

  private channelConversation(channel: string): Conversation {
    return this.conversation(`#${channel}`, `#${channel}`, null);
  }
}
