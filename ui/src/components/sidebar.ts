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

  /** Rows by conversation key: re-rendering updates them in place, so a row being clicked is
   * never swapped out from under the pointer. */
  private readonly rows = new Map<string, { li: HTMLElement; title: HTMLElement; unread: HTMLElement }>();

  render(conversations: Conversation[], active: string | null): void {
    if (conversations.length === 0) {
      this.rows.clear();
      replaceChildren(this.list, h("li", { class: "empty" }, "No conversations yet. Type @name and a message below."));
      return;
    }
    const lis = conversations.map((c) => {
      let row = this.rows.get(c.key);
      if (!row) {
        const title = h("span", { class: "title" });
        const unread = h("span", { class: "unread" });
        row = { li: h("li", { "data-key": c.key }, title, unread), title, unread };
        this.rows.set(c.key, row);
      }
      const isActive = c.key === active;
      row.li.className = isActive ? "active" : "";
      if (isActive) row.li.setAttribute("aria-current", "true");
      else row.li.removeAttribute("aria-current");
      if (row.title.textContent !== c.title) row.title.textContent = c.title;
      row.unread.hidden = c.unread === 0;
      row.unread.textContent = c.unread > 0 ? String(c.unread) : "";
      row.unread.setAttribute("aria-label", `${c.unread} unread`);
      return row.li;
    });
    const same = lis.length === this.list.children.length && lis.every((li, i) => this.list.children[i] === li);
    if (!same) this.list.replaceChildren(...lis);
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
