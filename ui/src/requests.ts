// Message requests: direct conversations started by someone who is not a contact yet, kept
// apart from Direct messages until the user answers, accepts or blocks. Anyone can write to an
// inbox, so everything here is bounded: at most MAX_REQUESTS request conversations of at most
// MAX_REQUEST_MESSAGES entries each are kept, and what is left out is counted and shown (never
// dropped silently). Blocked senders' messages are dropped by the core, which reports how many.

import type { ChatMessage, ConversationId } from "./ipc";

/** Request conversations kept in the window. */
export const MAX_REQUESTS = 500;
/** Entries kept per request conversation. */
export const MAX_REQUEST_MESSAGES = 20;
/** Request rows in the sidebar at once ("Show more" adds this many again). */
export const SHOWN_REQUESTS = 50;
/** Ids of conversations left out that are remembered (so their unread counts create nothing). */
const MAX_REMEMBERED = 20_000;
/** Blocked senders whose counts are kept. */
const MAX_BLOCKED_USERS = 10_000;

/**
 * Where a direct conversation stands. none: nothing decided it yet (opened by the user, or only
 * a count arrived); request: every message so far came as a request and we never wrote;
 * normal: a conversation (we wrote, accepted, or they are a contact).
 */
export type RequestState = "none" | "request" | "normal";

/** Whether `m` is a message request: the core decides (strangers, and names that are not honest). */
export function isRequest(m: ChatMessage): boolean {
  return !m.mine && m.request === true;
}

/** Counts of what the Requests section leaves out. */
export class RequestLedger {
  /** Request conversations not kept (the cap was reached). */
  droppedConversations = 0;
  /** Request messages not kept (their conversation was not kept, or was full). */
  droppedMessages = 0;
  /** More conversations were dropped than could be remembered: the count is a lower bound. */
  saturated = false;
  /** Messages of blocked senders dropped (the core's counts, plus late ones dropped here). */
  blockedMessages = 0;
  private readonly dropped = new Set<ConversationId>();
  /** Conversations blocked from this window: messages already on their way are dropped here. */
  private readonly blockedHere = new Set<ConversationId>();
  private readonly blockedCounts = new Map<string, number>();

  /** A request message for conversation `id` was left out. */
  drop(id: ConversationId, newConversation: boolean): void {
    this.droppedMessages++;
    if (!newConversation || this.dropped.has(id)) return;
    if (this.dropped.size >= MAX_REMEMBERED) {
      this.saturated = true;
      return;
    }
    this.dropped.add(id);
    this.droppedConversations++;
  }

  /** Conversation `id` was left out (its counts and typing signals create nothing). */
  wasDropped(id: ConversationId): boolean {
    return this.dropped.has(id) || this.blockedHere.has(id);
  }

  /** Kept after all (it became a conversation, or there was room again). */
  admitted(id: ConversationId): void {
    this.dropped.delete(id);
  }

  block(id: ConversationId): void {
    this.blockedHere.add(id);
  }

  unblock(id: ConversationId): void {
    this.blockedHere.delete(id);
  }

  isBlocked(id: ConversationId): boolean {
    return this.blockedHere.has(id);
  }

  /** A message for a conversation blocked here arrived before the core knew. */
  droppedBlocked(): void {
    this.blockedMessages++;
  }

  /** The core dropped `count` messages of `user` so far (this session). */
  blocked(user: string, count: number): void {
    if (!Number.isFinite(count) || count < 0) return;
    const before = this.blockedCounts.get(user);
    if (before === undefined && this.blockedCounts.size >= MAX_BLOCKED_USERS) {
      this.blockedMessages += count;
      return;
    }
    this.blockedCounts.set(user, Math.max(before ?? 0, count));
    this.blockedMessages += Math.max(0, count - (before ?? 0));
  }

  clear(): void {
    this.droppedConversations = this.droppedMessages = this.blockedMessages = 0;
    this.saturated = false;
    this.dropped.clear();
    this.blockedHere.clear();
    this.blockedCounts.clear();
  }
}

const count = new Intl.NumberFormat("en");

/** "1 message" / "1,234 messages". */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${count.format(n)} ${n === 1 ? one : many}`;
}

/** The footer line about requests not kept, or "" when none were left out. */
export function droppedText(ledger: RequestLedger): string {
  if (ledger.droppedMessages === 0) return "";
  const conversations = ledger.droppedConversations > 0 ? `${ledger.saturated ? "more than " : ""}${plural(ledger.droppedConversations, "request")}, ` : "";
  return `Too many requests at once: ${conversations}${plural(ledger.droppedMessages, "message")} not kept here`;
}

/** "N messages from blocked senders dropped", or "". */
export function blockedText(n: number): string {
  if (n <= 0) return "";
  return `${plural(n, "message")} from blocked senders dropped`;
}
