// The quick switcher (Ctrl+K): a filter box over conversations and people. Typing narrows the
// list (prefix matches first, then anywhere in the name); ↑/↓ move, Enter opens, Esc closes.
// Focus returns to where it was when it closes without opening anything.
//
// Selectors (WebDriver tests): #switcher (the dialog, hidden when closed), #switcher-input,
// #switcher-results with li.switcher-item[data-id] (.selected: where Enter goes).

import { h, replaceChildren, type Disposable } from "../dom";

export interface SwitcherItem {
  /** What opening it does: a conversation id (`@bob`, `#team`, `~messages`). */
  id: string;
  /** What is shown and matched. */
  label: string;
  /** A second, dimmer line: "room", "online", "3 unread"… */
  hint: string;
}

/** Most results shown at once. */
export const SWITCHER_MAX = 12;

/** Items matching `query`: names starting with it first, then names containing it (case-insensitive). */
export function filterItems(items: SwitcherItem[], query: string): SwitcherItem[] {
  const q = query.trim().toLowerCase().replace(/^[@#~]/, "");
  if (q === "") return items.slice(0, SWITCHER_MAX);
  const bare = (s: string) => s.toLowerCase().replace(/^[@#~]/, "");
  const starts = items.filter((i) => bare(i.label).startsWith(q));
  const contains = items.filter((i) => !bare(i.label).startsWith(q) && bare(i.label).includes(q));
  return [...starts, ...contains].slice(0, SWITCHER_MAX);
}

export class QuickSwitcher implements Disposable {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly results: HTMLUListElement;
  private readonly abort = new AbortController();
  private items: SwitcherItem[] = [];
  private shown: SwitcherItem[] = [];
  private selected = 0;
  private returnFocus: HTMLElement | null = null;

  /** `list` gives the current items when it opens; `open` opens one. */
  constructor(
    private readonly list: () => SwitcherItem[],
    private readonly open: (id: string) => void,
  ) {
    this.input = h("input", {
      id: "switcher-input",
      type: "text",
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "Jump to a conversation or person",
      "aria-label": "Jump to a conversation or person",
      "aria-controls": "switcher-results",
      role: "combobox",
      "aria-expanded": "true",
    });
    this.results = h("ul", { id: "switcher-results", class: "switcher-results", role: "listbox", "aria-label": "Matches" });
    const panel = h("div", { class: "switcher", role: "dialog", "aria-modal": "true", "aria-label": "Quick switcher" }, this.input, this.results);
    this.el = h("div", { class: "overlay switcher-overlay", id: "switcher", hidden: true }, panel);
    const signal = this.abort.signal;
    this.input.addEventListener("input", () => this.filter(), { signal });
    this.input.addEventListener("keydown", (e) => this.onKey(e), { signal });
    this.results.addEventListener(
      "click",
      (e) => {
        const li = (e.target as Element).closest?.<HTMLElement>("li[data-id]");
        if (li?.dataset.id) this.choose(li.dataset.id);
      },
      { signal },
    );
    // A click outside the panel closes it.
    this.el.addEventListener(
      "mousedown",
      (e) => {
        if (e.target === this.el) this.close();
      },
      { signal },
    );
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  show(): void {
    if (!this.isOpen) this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.items = this.list();
    this.input.value = "";
    this.el.hidden = false;
    this.filter();
    this.input.focus();
  }

  /** Closes it; focus goes back where it was. */
  close(): void {
    if (!this.isOpen) return;
    this.el.hidden = true;
    this.returnFocus?.focus();
    this.returnFocus = null;
  }

  private choose(id: string): void {
    this.el.hidden = true;
    this.returnFocus = null;
    this.open(id);
  }

  private filter(): void {
    this.shown = filterItems(this.items, this.input.value);
    this.selected = 0;
    this.render();
  }

  private render(): void {
    if (this.shown.length === 0) {
      replaceChildren(this.results, h("li", { class: "switcher-empty" }, "No conversation or person by that name"));
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    replaceChildren(
      this.results,
      ...this.shown.map((item, i) =>
        h(
          "li",
          { class: i === this.selected ? "switcher-item selected" : "switcher-item", "data-id": item.id, id: `switcher-item-${i}`, role: "option", "aria-selected": String(i === this.selected) },
          h("span", { class: "switcher-label" }, item.label),
          h("span", { class: "switcher-hint" }, item.hint),
        ),
      ),
    );
    this.input.setAttribute("aria-activedescendant", `switcher-item-${this.selected}`);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      // Not also Alt+↑/↓'s "next conversation" behind the switcher.
      e.stopPropagation();
      if (this.shown.length === 0) return;
      const step = e.key === "ArrowDown" ? 1 : -1;
      this.selected = (this.selected + step + this.shown.length) % this.shown.length;
      this.render();
    } else if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      const item = this.shown[this.selected];
      if (item) this.choose(item.id);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    }
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
