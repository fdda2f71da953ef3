// What the window shows, as plain data: conversations and their entries. No DOM here.

import { normaliseName } from "./compose";
import type { ChatMessage, SendReport, SessionEvent } from "./ipc";

export type Delivery = "sending" | "delivered" | "undelivered" | "failed";

export interface Entry {
  id: string;
  kind: "message" | "plain" | "unreadable" | "notice";
  /** Who wrote it (messages), or the channel (plain/unreadable). */
  from: string;
  text: string;
  /** RFC 3339 time shown next to it. */
  time: string;
  mine: boolean;
  delivery?: Delivery;
  /** Extra line: the unreadable reason, a failure reason. */
  detail?: string;
  /** The original WPF client (no Redchat fields). */
  legacy?: boolean;
  /** When the sender sent it (RFC 3339), if it said. */
  sentAt?: string;
}

export interface Conversation {
  key: string;
  title: string;
  /** Username to send to from this conversation; null for raw channels. */
  peer: string | null;
  entries: Entry[];
  unread: number;
  lastActivity: number;
}

export type Change = { conversation: string; appended: Entry[] } | { conversation: string; updated: Entry };

/** Conversations keyed by peer (`bob`) or raw channel (`#messages`). */
export class ChatModel {
  me: string | null = null;
  active: string | null = null;
  readonly conversations = new Map<string, Conversation>();
  private readonly seen = new Set<string>();
  private clock = 0;

  /** Conversations, most recently active first. */
  ordered(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity);
  }

  conversation(key: string, title: string, peer: string | null): Conversation {
    let c = this.conversations.get(key);
    if (!c) {
      c = { key, title, peer, entries: [], unread: 0, lastActivity: 0 };
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

  private append(c: Conversation, entry: Entry, changes: Change[]): void {
    c.entries.push(entry);
    c.lastActivity = ++this.clock;
    if (c.key !== this.active && !entry.mine) c.unread += 1;
    const last = changes[changes.length - 1];
    if (last && "appended" in last && last.conversation === c.key) last.appended.push(entry);
    else changes.push({ conversation: c.key, appended: [entry] });
  }

  /** Applies a batch of session events (status events are ignored here). */
  apply(batch: SessionEvent[]): Change[] {
    const changes: Change[] = [];
    for (const event of batch) {
      switch (event.kind) {
        case "chat": {
          if (this.seen.has(event.id)) break;
          this.seen.add(event.id);
          const peer = this.peerOf(event);
          this.append(this.conversation(peer, `@${peer}`, peer), {
            id: event.id,
            kind: "message",
            from: event.sender,
            text: event.content,
            time: event.receivedAt,
            mine: false,
            legacy: event.legacy,
            ...(event.sentAt ? { sentAt: event.sentAt } : {}),
          }, changes);
          break;
        }
        case "plain":
          this.append(this.channelConversation(event.channel), {
            id: event.id,
            kind: "plain",
            from: `#${event.channel}`,
            text: event.text,
            time: event.receivedAt,
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
            mine: false,
          }, changes);
          break;
        case "status":
          break;
      }
    }
    return changes;
  }

  /** Records a message we are sending; returns its entry to update on the outcome. */
  sending(to: string, body: string, localId: string): { entry: Entry; changes: Change[] } {
    const changes: Change[] = [];
    const entry: Entry = {
      id: localId,
      kind: "message",
      from: this.me ?? "me",
      text: `@${to} ${body}`,
      time: new Date().toISOString(),
      mine: true,
      delivery: "sending",
    };
    this.append(this.conversation(to, `@${to}`, to), entry, changes);
    return { entry, changes };
  }

  /** The send finished: mark the entry, and add the offline notice when nobody received it. */
  sent(to: string, entry: Entry, report: SendReport): Change[] {
    this.seen.add(report.message.id);
    entry.id = report.message.id;
    entry.text = report.message.content;
    entry.time = report.message.receivedAt;
    entry.delivery = report.receivers > 0 ? "delivered" : "undelivered";
    const changes: Change[] = [{ conversation: to, updated: entry }];
    if (report.receivers === 0) {
      this.notice(to, `${to} is not active: the message was not delivered.`, changes);
    }
    return changes;
  }

  failed(to: string, entry: Entry, reason: string): Change[] {
    entry.delivery = "failed";
    entry.detail = reason;
    return [{ conversation: to, updated: entry }];
  }

  notice(key: string, text: string, changes: Change[] = []): Change[] {
    const c = this.conversations.get(key) ?? this.conversation(key, key.startsWith("#") ? key : `@${key}`, key.startsWith("#") ? null : key);
    this.append(c, { id: `notice-${++this.clock}`, kind: "notice", from: "", text, time: new Date().toISOString(), mine: false }, changes);
    return changes;
  }

  private peerOf(m: ChatMessage): string {
    const sender = normaliseName(m.sender);
    // Our own message coming back (sent to ourselves or from another device of ours).
    if (this.me !== null && sender === this.me && m.to) return normaliseName(m.to);
    return sender;
  }

  private channelConversation(channel: string): Conversation {
    return this.conversation(`#${channel}`, `#${channel}`, null);
  }
}
