// When the window tells the desktop about a message: direct messages and mentions, while the
// window is not focused, not for muted conversations, not in do-not-disturb. Never one per
// message of a catch-up or a flood: messages that arrive close together are held for HOLD_MS
// and shown as one notification ("12 messages while you were away" after a catch-up, "5 new
// messages" otherwise), and after a notification the next one waits at least GAP_MS. Our own
// messages never notify; a message request (someone not a contact yet) notifies without its
// text, which a stranger chose, and so does a message whose sender is not proven (unsigned,
// forged, a new key, a look-alike name): its name may be a lie. Messages read on another
// device meanwhile are dropped. Text is plain: the desktop gets a sender name and a shortened
// body with control and direction characters removed.
//
// Mutes are per conversation and per user, kept as a preference (`redchat.muted.<user>`, prefs.ts).

import type { ChatMessage, ConversationId, SessionEvent } from "./ipc";
import { remember } from "./prefs";
import { isAuthentic } from "./trust";

/** Messages arriving within this of the first one are shown together. */
export const HOLD_MS = 1500;
/** At least this long between two notifications: a flood makes one every GAP_MS at most. */
export const GAP_MS = 10_000;
/** Longest body sent to the desktop. */
export const BODY_MAX = 180;
/** Messages kept for a summary; beyond them only the count grows (a flood holds no more). */
const HELD_MAX = 50;

export interface Alert {
  title: string;
  body: string;
  /** The conversation to open when it is clicked (the single one it is about, else null). */
  conversation: ConversationId | null;
}

export interface NotifierOptions {
  /** Shows the notification (the backend's `notify` command). */
  show(alert: Alert): void;
  /** Whether the window has focus right now. */
  hasFocus(): boolean;
  now?: () => number;
  /** Timers, injectable for tests (setTimeout by default). */
  schedule?: (run: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

/** Control, format and direction characters (bidi overrides, zero-width) are dropped; runs of whitespace become one space. */
export function plainText(text: string, max = BODY_MAX): string {
  const cleaned = text
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  const chars = Array.from(cleaned);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : cleaned;
}

function storageKey(user: string): string {
  return `redchat.muted.${user}`;
}

/** Muted conversations of `user` (ids), as saved. */
export function loadMuted(user: string): Set<ConversationId> {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(storageKey(user)) ?? "[]");
    return new Set(Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string") : []);
  } catch {
    return new Set();
  }
}

function saveMuted(user: string, muted: Set<ConversationId>): void {
  remember(storageKey(user), JSON.stringify([...muted]));
}

export class Notifier {
  /** Do not disturb (the tray and the top bar toggle it; the backend keeps it). */
  doNotDisturb = false;
  private me: string | null = null;
  private muted = new Set<ConversationId>();
  private held: ChatMessage[] = [];
  /** Held messages beyond HELD_MAX: counted only. */
  private overflow = 0;
  /** A catch-up was reported while messages were held. */
  private caughtUp = 0;
  private timer: unknown = null;
  private lastShown = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;
  private readonly schedule: (run: () => void, ms: number) => unknown;
  private readonly cancel: (handle: unknown) => void;

  constructor(private readonly options: NotifierOptions) {
    this.now = options.now ?? (() => Date.now());
    this.schedule = options.schedule ?? ((run, ms) => setTimeout(run, ms));
    this.cancel = options.cancel ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  }

  /** Signed in as `user` (null: nobody): their mutes apply, nothing held for another user is shown. */
  setUser(user: string | null): void {
    if (user === this.me) return;
    this.me = user;
    this.muted = user === null ? new Set() : loadMuted(user);
    this.drop();
  }

  isMuted(id: ConversationId): boolean {
    return this.muted.has(id);
  }

  setMuted(id: ConversationId, muted: boolean): void {
    if (muted) this.muted.add(id);
    else this.muted.delete(id);
    if (this.me !== null) saveMuted(this.me, this.muted);
    if (muted) this.forget(id);
  }

  /** Drops what is held for conversation `id` (muted, or read on another device). */
  private forget(id: ConversationId): void {
    this.held = this.held.filter((m) => m.conversation !== id);
    if (this.held.length === 0) this.overflow = 0;
  }

  /** Looks at a batch of session events as they arrive. */
  observe(batch: SessionEvent[]): void {
    for (const event of batch) {
      if (event.kind === "chat" && this.wants(event)) this.hold(event);
      else if (event.kind === "caughtUp" && event.count > 0 && this.held.length > 0) this.caughtUp = Math.max(this.caughtUp, event.count);
      // Read meanwhile (the read position is shared by every device): nothing to tell.
      else if (event.kind === "unread" && event.count === 0 && this.held.length > 0) this.forget(event.conversation);
    }
  }

  /** The window got focus: whatever was held is seen now. */
  focused(): void {
    this.drop();
  }

  private wants(m: ChatMessage): boolean {
    if (m.mine || this.doNotDisturb || this.muted.has(m.conversation)) return false;
    if (this.options.hasFocus()) return false;
    return m.room === null ? m.conversation.startsWith("@") : m.mentionsMe === true;
  }

  private hold(m: ChatMessage): void {
    if (this.held.length < HELD_MAX) this.held.push(m);
    else this.overflow++;
    if (this.timer !== null) return;
    const wait = Math.max(HOLD_MS, this.lastShown + GAP_MS - this.now());
    this.timer = this.schedule(() => this.flush(), wait);
  }

  private drop(): void {
    if (this.timer !== null) this.cancel(this.timer);
    this.timer = null;
    this.held = [];
    this.overflow = 0;
    this.caughtUp = 0;
  }

  private flush(): void {
    this.timer = null;
    const held = this.held.filter((m) => !this.muted.has(m.conversation));
    const caughtUp = this.caughtUp;
    const overflow = this.overflow;
    this.held = [];
    this.overflow = 0;
    this.caughtUp = 0;
    // Focus, or do-not-disturb, may have come while they were held.
    if (held.length === 0 || this.doNotDisturb || this.options.hasFocus()) return;
    this.lastShown = this.now();
    this.options.show(summarise(held, caughtUp > 0, overflow));
  }
}

/**
 * Whether the desktop may show `m`'s sender and text: signed by the key we know for that
 * sender, under an honest name. Anything else (unsigned, forged, a new key, a look-alike or
 * hidden-character name) may be someone else's words under a trusted name.
 */
export function believable(m: ChatMessage): boolean {
  return isAuthentic(m.trust) && !m.senderIssue && !m.lookalike;
}

/**
 * One notification for `held` (in arrival order, `more` beyond them only counted); `away`:
 * they came with a catch-up.
 */
export function summarise(held: ChatMessage[], away: boolean, more = 0): Alert {
  const first = held[0] as ChatMessage;
  const conversations = new Set(held.map((m) => m.conversation));
  const single = conversations.size === 1 && more === 0 ? first.conversation : null;
  const sender = plainText(first.sender, 60);
  const count = held.length + more;
  if (count === 1 && !believable(first)) {
    return { title: `Unverified message claiming to be from ${sender}`, body: "Open Redchat to see who really sent it", conversation: single };
  }
  if (count === 1 && first.request) {
    return { title: `Message request from ${sender}`, body: "Accept or block it in Redchat", conversation: single };
  }
  if (count === 1) {
    const where = first.room !== null ? ` in #${plainText(first.room, 60)}` : "";
    return { title: `${sender}${where}`, body: plainText(first.content), conversation: single };
  }
  const senders = [...new Set(held.map((m) => plainText(m.sender, 60)))];
  const who = senders.length <= 3 ? senders.join(", ") : `${senders.slice(0, 3).join(", ")} and ${senders.length - 3} more`;
  const title = away ? `${count} messages while you were away` : `${count} new messages`;
  return { title, body: `From ${who}`, conversation: single };
}
