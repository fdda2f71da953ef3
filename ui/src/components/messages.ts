// The open conversation's messages, windowed: at most WINDOW rows are in the DOM whatever the
// conversation's length. Scrolling near the top renders the previous PAGE rows (and drops rows
// at the bottom); near the bottom, the next ones. New messages render live only while the view
// is at the newest message; otherwise a "new messages" button counts them. Rows are built with
// text nodes only.

import { h, replaceChildren, type Disposable } from "../dom";
import { localDateTime, localTime } from "../format";
import type { Conversation, Entry } from "../model";
import { recordRendered, timed } from "../probe";

/** Most rows in the DOM at once (~8 nodes each). */
export const WINDOW = 150;
/** Rows added per step when scrolling into history. */
export const PAGE = 60;
/** Distance from an edge (px) that loads the next page. */
const EDGE = 300;

const DELIVERY_LABEL = {
  sending: "sending…",
  delivered: "delivered",
  undelivered: "not delivered",
  failed: "failed",
} as const;

export function renderEntry(entry: Entry): HTMLElement {
  const classes = ["entry", entry.kind, entry.mine ? "mine" : "", entry.delivery ?? ""].filter(Boolean).join(" ");
  if (entry.kind === "notice") {
    return h("li", { class: classes, "data-id": entry.id, role: "note" }, h("span", { class: "text" }, entry.text));
  }
  return h(
    "li",
    { class: classes, "data-id": entry.id },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "from" }, entry.mine ? `${entry.from} (you)` : entry.from),
      h("time", { datetime: entry.time }, localTime(entry.time)),
      entry.legacy ? h("span", { class: "badge", title: "sent by the original client" }, "classic") : null,
      entry.delivery ? h("span", { class: "delivery" }, DELIVERY_LABEL[entry.delivery]) : null,
    ),
    entry.detail ? h("div", { class: "detail" }, entry.detail) : null,
    h("div", { class: "text" }, entry.text),
  );
}

export class MessageList implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly header: HTMLElement;
  private readonly newer: HTMLButtonElement;
  private readonly abort = new AbortController();
  private conversation: Conversation | null = null;
  /** Rendered range of `conversation.entries`: [start, end). */
  private start = 0;
  private end = 0;
  private rows = new Map<Entry, HTMLElement>();
  private unseen = 0;

  constructor() {
    this.header = h("header", { class: "conversation-header", id: "conversation-title" });
    this.list = h("ol", { class: "messages", id: "messages" });
    this.newer = h("button", { type: "button", class: "newer", id: "newer", hidden: true });
    this.el = h("section", { class: "conversation" }, this.header, this.list, this.newer);
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
    this.newer.addEventListener("click", () => this.show(this.conversation), { signal });
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

  private row(entry: Entry): HTMLElement {
    const row = renderEntry(entry);
    this.rows.set(entry, row);
    return row;
  }

  /** Shows `conversation` at its newest message. */
  show(conversation: Conversation | null): void {
    this.conversation = conversation;
    this.rows = new Map();
    this.setUnseen(0);
    this.header.textContent = conversation ? conversation.title : "Redchat";
    if (!conversation) {
      this.start = this.end = 0;
      replaceChildren(
        this.list,
        h("li", { class: "welcome" }, "Start a conversation: type @name followed by your message, then press Enter."),
      );
      return;
    }
    this.end = conversation.entries.length;
    this.start = Math.max(0, this.end - WINDOW);
    replaceChildren(this.list, ...conversation.entries.slice(this.start, this.end).map((e) => this.row(e)));
    this.scrollToEnd();
  }

  /** `entries` were just added to the end of conversation `key`. */
  append(key: string, entries: Entry[]): void {
    const c = this.conversation;
    if (!c || key !== c.key) return;
    const before = c.entries.length - entries.length;
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
      replaceChildren(this.list, ...c.entries.slice(this.start, this.end).map((e) => this.row(e)));
    } else {
      const rows = timed("build", () => entries.map((e) => this.row(e)));
      timed("insert", () => this.list.append(...rows));
      this.end = c.entries.length;
      timed("trim", () => this.trimTop(true));
    }
    timed("scroll", () => this.scrollToEnd());
    recordRendered(entries.map((e) => e.sentAt));
  }

  update(key: string, entry: Entry): void {
    if (key !== this.conversation?.key) return;
    const old = this.rows.get(entry);
    if (old) old.replaceWith(this.row(entry));
  }

  private onScroll(): void {
    const c = this.conversation;
    if (!c) return;
    if (this.list.scrollTop < EDGE && this.start > 0) {
      const from = Math.max(0, this.start - PAGE);
      const height = this.list.scrollHeight;
      this.list.prepend(...c.entries.slice(from, this.start).map((e) => this.row(e)));
      this.start = from;
      this.list.scrollTop += this.list.scrollHeight - height;
      this.trimBottom();
    } else if (this.end < c.entries.length && this.nearBottom()) {
      const to = Math.min(c.entries.length, this.end + PAGE);
      this.list.append(...c.entries.slice(this.end, to).map((e) => this.row(e)));
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
    this.el.remove();
  }
}
