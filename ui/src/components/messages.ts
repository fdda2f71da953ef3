// The open conversation's messages, windowed: at most WINDOW rows are in the DOM whatever the
// conversation's length. Scrolling near the top renders the previous PAGE rows (and drops rows
// at the bottom); near the bottom, the next ones. At the real top of what is loaded, an edge row
// loads older history (on scroll, or its button) and says when there is no more. New messages
// render live only while the view is at the newest message; otherwise a "new messages" button
// counts them. Rows are built with text nodes only.
//
// Selectors (WebDriver tests): #messages (the list), .entry[data-id] rows with .mine, .mention
// (a room message naming you), .system (joined/left lines; .key-changed: a safety number
// changed), .notice, data-state (delivery), data-trust and .trust-<state> (see trust.ts);
// #history-edge, #newer. Slack/Element habits (messages.css):
//   .entry.grouped         a message continuing its sender's run (same sender, same day, within
//                          GROUP_MS, both authentic and alike): no avatar, and its .from and
//                          .trust-mark are only visually hidden (screen readers still read them)
//   .entry.new-day         the first row of a local day; its first child is
//                          .day-separator[role=separator] ("Today", "Yesterday", a long date)
//   .avatar                initials of the sender on a colour from the name (avatar.ts)
//   .text pre.code-block > code, .text code.inline-code, .text a.link[data-href] (richtext.ts)
// Whether a row is grouped or starts a day depends on the entry before it in the conversation
// (rendered or not): a row whose predecessor changes (older history arrived) is rendered again.

import { avatarElement } from "../avatar";
import { h, replaceChildren, type Disposable } from "../dom";
import { localDateTime, localTime } from "../format";
import type { Conversation, Entry, Older } from "../model";
import { recordRendered, timed } from "../probe";
import { richText } from "../richtext";
import { senderElement, trustClasses, trustMarks, trustNotes } from "../trust";
import "./messages.css";

/** Screen readers hear of new messages at most this often (ms). */
const ANNOUNCE_MS = 1000;
/** Most rows in the DOM at once (~8 nodes each). */
export const WINDOW = 150;
/** Rows added per step when scrolling into history. */
export const PAGE = 60;
/** Distance from an edge (px) that loads the next page. */
const EDGE = 300;
/** Longest gap between two messages of one sender's run. */
export const GROUP_MS = 5 * 60_000;

/** What the delivery line of a message we sent says; `online`: connected right now. */
export function deliveryLabel(entry: Entry, online: boolean): string {
  const peer = entry.to ?? "they";
  const group = peer.startsWith("#") || peer.startsWith("~");
  const state = entry.delivery;
  if (state === undefined) return "";
  switch (state) {
    case "queued":
      return online ? "Sending…" : "Waiting for connection";
    case "delivered":
      return "Delivered";
    case "stored":
      return group ? `Stored — ${peer} members get it on next connect` : `Stored — ${peer} gets it on next connect`;
    case "notDelivered":
      return group ? `Not delivered — nobody in ${peer} is active` : `Not delivered — ${peer} is not active`;
    case "failed":
      return `Failed: ${entry.reason ?? "unknown error"}`;
  }
}

/** Class for a delivery state (kebab-case, as CSS likes it). */
const DELIVERY_CLASS = {
  queued: "queued",
  delivered: "delivered",
  stored: "stored",
  notDelivered: "not-delivered",
  failed: "failed",
} as const;

/** Local calendar day of `ms` as a number (20261130), comparable for equality. */
function dayOf(ms: number): number {
  const d = new Date(ms);
  return d.getFullYear() * 10_000 + (d.getMonth() + 1) * 100 + d.getDate();
}

const longDate = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

/** What the separator before the first row of `ms`'s local day says, `now` being now. */
export function dayLabel(ms: number, now: number): string {
  const day = dayOf(ms);
  if (day === dayOf(now)) return "Today";
  const today = new Date(now);
  if (day === dayOf(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1).getTime())) return "Yesterday";
  return longDate.format(ms);
}

/** Whether trust lets a message join its sender's run: only authentic messages hide their name. */
function groupable(entry: Entry): boolean {
  return (
    entry.kind === "message" &&
    (entry.trust === "verified" || entry.trust === "signed") &&
    !entry.claimsMe &&
    !entry.senderIssue &&
    !entry.lookalike
  );
}

/** Whether `entry` (at `ms`) continues the run of `previous` (at `previousMs`) on the same day. */
function continues(entry: Entry, ms: number, previous: Entry, previousMs: number): boolean {
  return (
    groupable(entry) &&
    groupable(previous) &&
    entry.from === previous.from &&
    entry.mine === previous.mine &&
    entry.trust === previous.trust &&
    Math.abs(ms - previousMs) <= GROUP_MS
  );
}

/**
 * The row of `entry`. `previous`: the entry before it in the conversation (rendered or not;
 * none for the first), which decides whether the row continues its sender's run (.grouped) or
 * starts a day (.new-day, with a separator). `now` says which day is today.
 */
export function renderEntry(entry: Entry, online = true, previous?: Entry, now: () => number = Date.now): HTMLElement {
  const ms = Date.parse(entry.time);
  const previousMs = previous ? Date.parse(previous.time) : Number.NaN;
  // An unreadable time starts nothing and joins nothing.
  const newDay = !Number.isNaN(ms) && (previous === undefined || Number.isNaN(previousMs) || dayOf(ms) !== dayOf(previousMs));
  const grouped = !newDay && previous !== undefined && !Number.isNaN(ms) && continues(entry, ms, previous, previousMs);
  const separator = newDay ? daySeparator(dayLabel(ms, now())) : null;
  const state = entry.delivery ? DELIVERY_CLASS[entry.delivery] : "";
  const classes = [
    "entry",
    entry.kind,
    entry.mine ? "mine" : "",
    entry.mention ? "mention" : "",
    state,
    entry.keyChange ? "key-changed" : "",
    trustClasses(entry),
    grouped ? "grouped" : "",
    newDay ? "new-day" : "",
  ]
    .filter(Boolean)
    .join(" ");
  if (entry.kind === "system") {
    return h(
      "li",
      { class: classes, "data-id": entry.id, "data-user": entry.from, "data-trust": entry.trust, role: entry.keyChange ? "note" : undefined },
      separator,
      h("span", { class: "text" }, entry.text),
      h("time", { datetime: entry.time }, localTime(entry.time)),
    );
  }
  if (entry.kind === "notice") {
    return h("li", { class: classes, "data-id": entry.id, role: "note" }, separator, h("span", { class: "text" }, entry.text));
  }
  const message = entry.kind === "message";
  return h(
    "li",
    { class: classes, "data-id": entry.id, "data-state": entry.delivery, "data-trust": entry.trust },
    separator,
    message && !grouped ? avatarElement(entry.from) : null,
    h(
      "div",
      { class: "meta" },
      senderElement(entry),
      ...trustMarks(entry),
      h("time", { datetime: entry.time }, localTime(entry.time)),
      entry.legacy ? h("span", { class: "badge", title: "sent by the original client" }, "classic") : null,
      entry.delivery ? h("span", { class: "delivery" }, deliveryLabel(entry, online)) : null,
      entry.delivery === "failed"
        ? h("button", { type: "button", class: "retry", "data-retry": entry.id, "aria-label": `Retry sending to ${entry.to ?? "them"}` }, "Retry")
        : null,
    ),
    ...trustNotes(entry),
    entry.detail ? h("div", { class: "detail" }, entry.detail) : null,
    // Raw channel lines (plain, unreadable) are data, shown exactly; messages get code and links.
    h("div", { class: "text", dir: "auto" }, ...(message ? richText(entry.text) : [entry.text])),
  );
}

function daySeparator(label: string): HTMLElement {
  // A separator's content is presentational: the label is its accessible name too.
  return h("div", { class: "day-separator", role: "separator", "aria-label": label }, h("span", { class: "day-label" }, label));
}

/** What the edge row at the top of a conversation shows. */
function renderEdge(edge: HTMLElement, older: Older): void {
  edge.dataset.state = older.state;
  const loadButton = (label: string) => h("button", { type: "button", class: "load-older", "data-load-older": "" }, label);
  switch (older.state) {
    case "idle":
      replaceChildren(edge, loadButton("Load older messages"));
      break;
    case "loading":
      replaceChildren(edge, h("span", { class: "edge-text" }, "Loading older messages…"));
      break;
    case "error":
      replaceChildren(
        edge,
        h("span", { class: "edge-text error-text" }, `Couldn't load older messages: ${older.error ?? "unknown error"}`),
        loadButton("Try again"),
      );
      break;
    case "end":
      replaceChildren(edge, h("span", { class: "edge-text" }, "Beginning of history"));
      break;
    case "off":
      replaceChildren(edge, h("span", { class: "edge-text" }, "History is off in live-only mode"));
      break;
    case "none":
      replaceChildren(edge);
      break;
  }
}

export interface ListActions {
  /** Retry sending the failed message `id`. */
  retry(id: string): void;
  /** The view reached the top of conversation `key`: load older history. */
  loadOlder(key: string): void;
  /** A link in a message was clicked: open `url` (http:, https: or mailto:, checked by richtext.ts) outside the app. */
  openLink(url: string): void;
  /** "Jump to latest" in a conversation showing older messages around a search hit. */
  jumpToLatest(key: string): void;
}

const NO_ACTIONS: ListActions = { retry: () => undefined, loadOlder: () => undefined, openLink: () => undefined, jumpToLatest: () => undefined };

export interface ListOptions {
  /** The clock that says which day is "Today" (tests pass a fixed one). */
  now?: () => number;
}

export class MessageList implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly newer: HTMLButtonElement;
  /** Shown while the conversation shows older messages around a search hit (#jump-latest). */
  private readonly latest: HTMLButtonElement;
  /** First row while the real top of the loaded entries is shown: older history, or why not. */
  private readonly edge: HTMLElement;
  private readonly abort = new AbortController();
  private conversation: Conversation | null = null;
  /** Rendered range of `conversation.entries`: [start, end). */
  private start = 0;
  private end = 0;
  private rows = new Map<Entry, HTMLElement>();
  private unseen = 0;
  private online = true;
  private readonly actions: ListActions;
  private readonly announcer: HTMLElement;
  private announcing: { count: number; last: Entry | null; at: number; timer: ReturnType<typeof setTimeout> | null } = { count: 0, last: null, at: Number.NEGATIVE_INFINITY, timer: null };
  private readonly now: () => number;

  /** Actions not given do nothing. */
  constructor(actions: Partial<ListActions> = {}, options: ListOptions = {}) {
    this.actions = { ...NO_ACTIONS, ...actions };
    this.now = options.now ?? Date.now;
    this.list = h("ol", { class: "messages", id: "messages" });
    // New messages from others are announced (once per batch, politely); rows rendered by
    // opening a conversation or scrolling into history are not news.
    this.announcer = h("p", { class: "sr-only", id: "announcer", "aria-live": "polite", "aria-atomic": "true" });
    this.newer = h("button", { type: "button", class: "newer", id: "newer", hidden: true });
    this.edge = h("li", { class: "history-edge", id: "history-edge", "aria-live": "polite" });
    this.latest = h("button", { type: "button", class: "newer jump-latest", id: "jump-latest", hidden: true }, "Jump to latest messages ↓");
    this.el = h("section", { class: "conversation" }, this.list, this.newer, this.latest, this.announcer);
    const signal = this.abort.signal;
    this.list.addEventListener("scroll", () => this.onScroll(), { signal, passive: true });
    // Full date on hover, computed when asked for rather than for every row rendered.
    this.list.addEventListener(
      "mouseover",
      (e) => {
        const time = (e.target as Element).closest?.("time");
        if (time && !time.title) time.title = localDateTime(time.dateTime);
      },
      { signal },
    );
    this.list.addEventListener(
      "click",
      (e) => {
        const target = e.target as Element;
        const link = target.closest?.<HTMLAnchorElement>("a.link");
        if (link) {
          // Never navigate the app's window: the link opens outside (in the browser, the mailer).
          e.preventDefault();
          if (link.dataset.href) this.actions.openLink(link.dataset.href);
          return;
        }
        const retry = target.closest?.<HTMLButtonElement>("button[data-retry]");
        if (retry?.dataset.retry) {
          retry.disabled = true;
          this.actions.retry(retry.dataset.retry);
        } else if (target.closest?.("button[data-load-older]") && this.conversation) {
          this.actions.loadOlder(this.conversation.id);
        }
      },
      { signal },
    );
    // A middle click would open the link in a new webview window: open it outside instead.
    this.list.addEventListener(
      "auxclick",
      (e) => {
        const link = e.button === 1 ? (e.target as Element).closest?.<HTMLAnchorElement>("a.link") : null;
        if (!link) return;
        e.preventDefault();
        if (link.dataset.href) this.actions.openLink(link.dataset.href);
      },
      { signal },
    );
    // WebKit's menu on a link offers "Open Link" (in this window): not for links in messages.
    this.list.addEventListener(
      "contextmenu",
      (e) => {
        if ((e.target as Element).closest?.("a.link")) e.preventDefault();
      },
      { signal },
    );
    this.newer.addEventListener("click", () => this.show(this.conversation), { signal });
    this.latest.addEventListener(
      "click",
      () => {
        if (this.conversation) this.actions.jumpToLatest(this.conversation.id);
      },
      { signal },
    );
  }

  /** How many of the open conversation's oldest entries the model may drop now: none while the user reads up the history, else those above the rendered rows. */
  trimmable(key: string): number {
    const c = this.conversation;
    if (!c || key !== c.id) return Number.POSITIVE_INFINITY;
    return this.end === c.entries.length && this.unseen === 0 ? this.start : 0;
  }

  /** The model dropped the `n` oldest entries of conversation `key` (none of them rendered). */
  trimmed(key: string, n: number): void {
    if (key !== this.conversation?.id || n <= 0) return;
    this.start = Math.max(0, this.start - n);
    this.end = Math.max(this.start, this.end - n);
    this.syncEdge();
  }

  /** Shows conversation `conversation` around entry `id`, scrolled to it and marked for a moment. */
  reveal(conversation: Conversation, id: string): void {
    this.show(conversation);
    const i = conversation.entries.findIndex((e) => e.id === id);
    if (i < 0) return;
    this.rows = new Map();
    this.start = Math.max(0, i - 40);
    this.end = Math.min(conversation.entries.length, this.start + WINDOW);
    replaceChildren(this.list, ...this.rowsOf(conversation.entries, this.start, this.end));
    this.syncEdge();
    const row = this.rows.get(conversation.entries[i] as Entry);
    if (!row) return;
    row.classList.add("found");
    row.scrollIntoView({ block: "center" });
  }

  /** Rendered range, for tests and the benchmark. */
  get range(): { start: number; end: number; total: number } {
    return { start: this.start, end: this.end, total: this.conversation?.entries.length ?? 0 };
  }

  /** Scrolls to the top and runs the scroll handler now (benchmarks scroll through history). */
  scrollToTop(): void {
    this.list.scrollTop = 0;
    this.onScroll();
  }

  /** Renders the row of `entries[i]` (with its real predecessor) and remembers it. */
  private row(entries: Entry[], i: number): HTMLElement {
    const entry = entries[i] as Entry;
    const row = renderEntry(entry, this.online, entries[i - 1], this.now);
    this.rows.set(entry, row);
    return row;
  }

  /** Rows of `entries[from, to)`. */
  private rowsOf(entries: Entry[], from: number, to: number): HTMLElement[] {
    const rows: HTMLElement[] = [];
    for (let i = from; i < to; i++) rows.push(this.row(entries, i));
    return rows;
  }

  /** Renders the row of `entries[i]` again, if it is rendered. */
  private rerender(entries: Entry[], i: number): void {
    const entry = entries[i];
    const old = entry && this.rows.get(entry);
    if (old) old.replaceWith(this.row(entries, i));
  }

  /** Index of `entry` in the conversation; rendered rows (newest first) are looked at first. */
  private indexOf(entries: Entry[], entry: Entry): number {
    for (let i = Math.min(this.end, entries.length) - 1; i >= this.start; i--) if (entries[i] === entry) return i;
    return entries.indexOf(entry);
  }

  /** Connected or not: messages waiting in the outbox say "Sending…" or "Waiting for connection". */
  setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    const entries = this.conversation?.entries ?? [];
    for (const entry of [...this.rows.keys()]) {
      if (entry.delivery === "queued") this.rerender(entries, this.indexOf(entries, entry));
    }
  }

  /** Shows `conversation` at its newest message. */
  show(conversation: Conversation | null): void {
    this.conversation = conversation;
    this.rows = new Map();
    this.setUnseen(0);
    this.latest.hidden = !conversation?.detached;
    if (!conversation) {
      this.start = this.end = 0;
      replaceChildren(
        this.list,
        h("li", { class: "welcome" }, "Start a conversation: type @name followed by your message, then press Enter — or join a room by typing #name in the box on the left."),
      );
      return;
    }
    this.end = conversation.entries.length;
    this.start = Math.max(0, this.end - WINDOW);
    replaceChildren(this.list, ...this.rowsOf(conversation.entries, this.start, this.end));
    this.syncEdge();
    this.scrollToEnd();
  }

  /** `entries` were just added to the end of conversation `key`. */
  append(key: string, entries: Entry[]): void {
    const c = this.conversation;
    if (!c || key !== c.id) return;
    const before = c.entries.length - entries.length;
    this.announce(entries);
    // One layout read per batch; everything after it only writes.
    if (this.end !== before || !timed("atEnd", () => this.atEnd())) {
      // Reading history: don't move the view; count what is waiting below.
      this.setUnseen(this.unseen + entries.filter((e) => !e.mine).length);
      if (entries.some((e) => e.mine)) this.show(c);
      return;
    }
    if (entries.length >= WINDOW) {
      // A burst bigger than the window: render its newest WINDOW rows in one go.
      this.rows = new Map();
      this.end = c.entries.length;
      this.start = this.end - WINDOW;
      replaceChildren(this.list, ...this.rowsOf(c.entries, this.start, this.end));
      this.syncEdge();
    } else {
      const rows = timed("build", () => this.rowsOf(c.entries, before, c.entries.length));
      timed("insert", () => this.list.append(...rows));
      this.end = c.entries.length;
      timed("trim", () => this.trimTop(true));
    }
    timed("scroll", () => this.scrollToEnd());
    recordRendered(entries.map((e) => e.sentAt));
  }

  /**
   * Tells screen readers of the new messages from others in `entries`: at once, then at most
   * once a second (a firehose would otherwise drown the reader), counting what came between.
   */
  private announce(entries: Entry[]): void {
    for (const e of entries) {
      if (!e.mine && e.kind === "message") {
        this.announcing.count++;
        this.announcing.last = e;
      }
    }
    if (this.announcing.count === 0 || this.announcing.timer !== null) return;
    const now = this.now();
    if (now - this.announcing.at >= ANNOUNCE_MS) this.flushAnnouncement();
    else this.announcing.timer = setTimeout(() => this.flushAnnouncement(), ANNOUNCE_MS - (now - this.announcing.at));
  }

  private flushAnnouncement(): void {
    const { count, last } = this.announcing;
    this.announcing = { count: 0, last: null, at: this.now(), timer: null };
    if (last === null) return;
    this.announcer.textContent = count === 1 ? `${last.from}: ${Array.from(last.text).slice(0, 200).join("")}` : `${count} new messages, the last from ${last.from}`;
  }

  /**
   * `entries` (older history) were just added before the first entry of conversation `key`.
   * At the newest message the view stays there; reading at the top, what is on screen stays
   * in place and the new rows appear above it.
   */
  prepend(key: string, entries: Entry[]): void {
    const c = this.conversation;
    if (!c || key !== c.id || entries.length === 0) return;
    const n = entries.length;
    if (this.start > 0 || this.end === 0) {
      // Not rendered (above the window), or nothing was rendered: indices shift / start over.
      if (this.end === 0) this.show(c);
      else {
        this.start += n;
        this.end += n;
      }
      return;
    }
    if (this.atEnd()) {
      if (this.end + n > WINDOW) {
        this.show(c);
        return;
      }
      this.insertAtTop(this.rowsOf(c.entries, 0, n));
      // The row that was first has a predecessor now: it may join its run or lose its separator.
      this.rerender(c.entries, n);
      this.end += n;
      this.scrollToEnd();
      return;
    }
    const height = this.list.scrollHeight;
    const top = this.list.scrollTop;
    const shown = Math.min(n, PAGE);
    this.insertAtTop(this.rowsOf(c.entries, n - shown, n));
    this.rerender(c.entries, n);
    this.start = n - shown;
    this.end += n;
    this.syncEdge();
    this.list.scrollTop = top + (this.list.scrollHeight - height);
    this.trimBottom();
  }

  /** Inserts rows before the first entry row (after the edge row, if shown). */
  private insertAtTop(rows: HTMLElement[]): void {
    if (this.edge.parentNode === this.list) this.edge.after(...rows);
    else this.list.prepend(...rows);
  }

  /** Entries of conversation `key` were inserted anywhere: render it again. */
  reload(key: string): void {
    if (key === this.conversation?.id) this.show(this.conversation);
  }

  update(key: string, entry: Entry): void {
    const c = this.conversation;
    if (key !== c?.id || !this.rows.has(entry)) return;
    const i = this.indexOf(c.entries, entry);
    if (i < 0) return;
    this.rerender(c.entries, i);
    // Whether the next row continues this one's run can change with it (its trust, say).
    this.rerender(c.entries, i + 1);
  }

  /** The older-history state of conversation `key` changed. */
  refreshEdge(key: string | null = null): void {
    if (key === null || key === this.conversation?.id) this.syncEdge();
  }

  /** Puts the edge row first while the real top is rendered, with what it should say. */
  private syncEdge(): void {
    const c = this.conversation;
    if (!c || this.start > 0 || c.older.state === "none") {
      this.edge.remove();
      return;
    }
    renderEdge(this.edge, c.older);
    if (this.list.firstChild !== this.edge) this.list.prepend(this.edge);
  }

  private onScroll(): void {
    const c = this.conversation;
    if (!c) return;
    if (this.list.scrollTop < EDGE && this.start > 0) {
      const from = Math.max(0, this.start - PAGE);
      const height = this.list.scrollHeight;
      this.list.prepend(...this.rowsOf(c.entries, from, this.start));
      this.start = from;
      this.syncEdge();
      this.list.scrollTop += this.list.scrollHeight - height;
      this.trimBottom();
    } else if (this.list.scrollTop < EDGE && c.older.state === "idle") {
      // The real top of what is loaded: ask for older history (once; the state says loading).
      this.actions.loadOlder(c.id);
    } else if (this.end < c.entries.length && this.nearBottom()) {
      const to = Math.min(c.entries.length, this.end + PAGE);
      this.list.append(...this.rowsOf(c.entries, this.end, to));
      this.end = to;
      this.trimTop(false);
      if (this.end === c.entries.length) this.setUnseen(0);
    }
  }

  /**
   * Drops rows above the window, keeping what is on screen in place. At the bottom
   * (`pinned`), the view is scrolled to the end anyway, so nothing is measured.
   */
  private trimTop(pinned: boolean): void {
    const c = this.conversation;
    if (!c || this.end - this.start <= WINDOW) return;
    const drop = this.end - this.start - WINDOW;
    const height = pinned ? 0 : this.list.scrollHeight;
    for (const entry of c.entries.slice(this.start, this.start + drop)) {
      this.rows.get(entry)?.remove();
      this.rows.delete(entry);
    }
    this.start += drop;
    this.edge.remove();
    if (!pinned) this.list.scrollTop -= height - this.list.scrollHeight;
  }

  private trimBottom(): void {
    const c = this.conversation;
    if (!c || this.end - this.start <= WINDOW) return;
    const keepEnd = this.start + WINDOW;
    for (const entry of c.entries.slice(keepEnd, this.end)) {
      this.rows.get(entry)?.remove();
      this.rows.delete(entry);
    }
    this.end = keepEnd;
  }

  private setUnseen(n: number): void {
    this.unseen = n;
    this.newer.hidden = n === 0;
    this.newer.textContent = n === 1 ? "1 new message ↓" : `${n} new messages ↓`;
  }

  private atEnd(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
  }

  private nearBottom(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < EDGE;
  }

  private scrollToEnd(): void {
    // (A huge constant would avoid the layout read, but WebKit does not clamp values beyond
    // its layout range: the view then stays put.)
    this.list.scrollTop = this.list.scrollHeight;
  }

  dispose(): void {
    this.abort.abort();
    if (this.announcing.timer !== null) clearTimeout(this.announcing.timer);
    this.el.remove();
  }
}
