// The conversation list: one entry per peer or raw channel, unread counts, "new" button.

import { h, replaceChildren, type Disposable } from "../dom";
import type { Conversation } from "../model";

export class Sidebar implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly abort = new AbortController();

  constructor(onSelect: (key: string) => void) {
    this.list = h("ul", { class: "conversations", id: "conversations" });
    this.el = h("nav", { class: "sidebar", "aria-label": "Conversations" }, h("h2", {}, "Conversations"), this.list);
    this.list.addEventListener(
      "click",
      (e) => {
        const item = (e.target as Element).closest<HTMLElement>("li[data-key]");
        if (item?.dataset.key) onSelect(item.dataset.key);
      },
      { signal: this.abort.signal },
    );
  }

  render(conversations: Conversation[], active: string | null): void {
    if (conversations.length === 0) {
      replaceChildren(this.list, h("li", { class: "empty" }, "No conversations yet. Type @name and a message below."));
      return;
    }
    replaceChildren(
      this.list,
      ...conversations.map((c) =>
        h(
          "li",
          { "data-key": c.key, class: c.key === active ? "active" : "", "aria-current": c.key === active ? "true" : undefined },
          h("span", { class: "title" }, c.title),
          c.unread > 0 ? h("span", { class: "unread", "aria-label": `${c.unread} unread` }, String(c.unread)) : null,
        ),
      ),
    );
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
