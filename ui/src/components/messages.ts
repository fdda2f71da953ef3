// The message list of the open conversation. Rows are built with text nodes only.

import { h, replaceChildren, type Disposable } from "../dom";
import { localDateTime, localTime } from "../format";
import type { Conversation, Entry } from "../model";

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
      h("time", { datetime: entry.time, title: localDateTime(entry.time) }, localTime(entry.time)),
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
  private shown: string | null = null;

  constructor() {
    this.header = h("header", { class: "conversation-header", id: "conversation-title" });
    this.list = h("ol", { class: "messages", id: "messages", "aria-live": "polite" });
    this.el = h("section", { class: "conversation" }, this.header, this.list);
  }

  /** Rows by entry object, so a row is found after its id changes (local id → message id). */
  private rows = new WeakMap<Entry, Element>();

  private row(entry: Entry): HTMLElement {
    const row = renderEntry(entry);
    this.rows.set(entry, row);
    return row;
  }

  show(conversation: Conversation | null): void {
    this.shown = conversation?.key ?? null;
    this.rows = new WeakMap();
    this.header.textContent = conversation ? conversation.title : "Redchat";
    if (!conversation) {
      replaceChildren(
        this.list,
        h("li", { class: "welcome" }, "Start a conversation: type @name followed by your message, then press Enter."),
      );
      return;
    }
    replaceChildren(this.list, ...conversation.entries.map((e) => this.row(e)));
    this.scrollToEnd();
  }

  append(key: string, entries: Entry[]): void {
    if (key !== this.shown) return;
    const stick = this.atEnd();
    this.list.append(...entries.map((e) => this.row(e)));
    if (stick) this.scrollToEnd();
  }

  update(key: string, entry: Entry): void {
    if (key !== this.shown) return;
    this.rows.get(entry)?.replaceWith(this.row(entry));
  }

  private atEnd(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  dispose(): void {
    this.el.remove();
  }
}
