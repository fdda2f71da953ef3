// Search over the messages stored on this device (Ctrl+Shift+F everywhere, Ctrl+F in the open
// conversation), and export. Typing searches (after a short pause); ↑/↓ move, Enter or a
// click opens the hit in its conversation, Esc closes. Matches are highlighted with <mark>
// around text nodes: message text never becomes markup.
//
// Selectors (WebDriver tests): #search (the dialog, hidden when closed), #search-input,
// #search-scope (the scope; its button #search-everywhere widens it), #search-status,
// #search-results with li.search-hit[data-id][data-conversation] (.selected), mark.hit;
// #export-format, #export-scope (this conversation / everything), #export-run.

import { h, replaceChildren, type Disposable } from "../dom";
import type * as ipc from "../ipc";
import type { ChatMessage, ExportFormat } from "../ipc";
import { trustOf } from "../trust";

/** Hits asked for per search. */
export const SEARCH_LIMIT = 50;
/** Pause after typing before searching (ms). */
export const SEARCH_DELAY = 150;
/** Characters of a hit shown at most (around the first match). */
const SNIPPET = 240;

export interface SearchDeps {
  backend: Pick<typeof ipc, "search" | "exportMessages">;
  /** Opens a hit in its conversation, around it. */
  open(hit: ChatMessage): void;
  /** The conversation's name as the sidebar shows it. */
  titleOf(conversation: string): string;
  /** Something went wrong that is not about the query (export failed): tell the user. */
  problem(text: string): void;
  /** An export was written. */
  exported(text: string): void;
}

/** Word starts in `lower` where one of `words` begins: [start, end) ranges, sorted, not overlapping. */
export function matchRanges(text: string, words: readonly string[]): Array<[number, number]> {
  const lower = text.toLowerCase();
  // Lowercasing that changes lengths (rare scripts) would misplace marks: none then.
  if (lower.length !== text.length || words.length === 0) return [];
  const ranges: Array<[number, number]> = [];
  const isWord = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  for (let i = 0; i < lower.length; i++) {
    if (isWord(lower[i - 1]) || !isWord(lower[i])) continue;
    let best = 0;
    for (const w of words) {
      if (w.length > best && lower.startsWith(w, i)) best = w.length;
    }
    if (best > 0) {
      ranges.push([i, i + best]);
      i += best - 1;
    }
  }
  return ranges;
}

/** `text` as text nodes with the matches of `words` in <mark class="hit">, cut to about SNIPPET characters around the first match. */
export function highlighted(text: string, words: readonly string[]): Node[] {
  let ranges = matchRanges(text, words);
  let from = 0;
  let to = text.length;
  if (text.length > SNIPPET) {
    const first = ranges[0]?.[0] ?? 0;
    from = Math.max(0, first - SNIPPET / 4);
    to = Math.min(text.length, from + SNIPPET);
    ranges = ranges.filter(([a, b]) => a >= from && b <= to);
  }
  const nodes: Node[] = [];
  if (from > 0) nodes.push(document.createTextNode("…"));
  let at = from;
  for (const [a, b] of ranges) {
    if (a > at) nodes.push(document.createTextNode(text.slice(at, a)));
    nodes.push(h("mark", { class: "hit" }, text.slice(a, b)));
    at = b;
  }
  if (at < to) nodes.push(document.createTextNode(text.slice(at, to)));
  if (to < text.length) nodes.push(document.createTextNode("…"));
  return nodes;
}

function when(m: ChatMessage): string {
  const t = Date.parse(m.sentAt ?? m.receivedAt);
  return Number.isNaN(t) ? "" : new Date(t).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export class SearchPanel implements Disposable {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly scopeLabel: HTMLElement;
  private readonly everywhere: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly results: HTMLUListElement;
  private readonly format: HTMLSelectElement;
  private readonly exportScope: HTMLSelectElement;
  private readonly exportButton: HTMLButtonElement;
  private readonly abort = new AbortController();
  private scope: string | null = null;
  private hits: ChatMessage[] = [];
  private selected = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped per search: a late answer to an older query is dropped. */
  private asked = 0;
  private returnFocus: HTMLElement | null = null;

  constructor(private readonly deps: SearchDeps) {
    this.input = h("input", {
      id: "search-input",
      type: "search",
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "Search messages — from:alice in:#team before:2026-12-01",
      "aria-label": "Search messages",
      "aria-controls": "search-results",
    });
    this.scopeLabel = h("span", { class: "search-scope-label" });
    this.everywhere = h("button", { type: "button", id: "search-everywhere", class: "link-button" }, "Search everywhere");
    this.status = h("p", { id: "search-status", class: "search-status", role: "status" });
    this.results = h("ul", { id: "search-results", class: "search-results", role: "listbox", "aria-label": "Messages found" });
    this.format = h(
      "select",
      { id: "export-format", "aria-label": "Export format" },
      h("option", { value: "md" }, "Markdown"),
      h("option", { value: "json" }, "JSON lines"),
      h("option", { value: "csv" }, "CSV"),
    );
    this.exportScope = h("select", { id: "export-scope", "aria-label": "What to export" });
    this.exportButton = h("button", { type: "button", id: "export-run" }, "Export…");
    const panel = h(
      "div",
      { class: "search-panel", role: "dialog", "aria-modal": "true", "aria-label": "Search messages" },
      this.input,
      h("div", { id: "search-scope", class: "search-scope" }, this.scopeLabel, this.everywhere),
      this.status,
      this.results,
      h("div", { class: "search-export" }, h("span", {}, "Export stored messages:"), this.exportScope, this.format, this.exportButton),
    );
    this.el = h("div", { class: "overlay search-overlay", id: "search", hidden: true }, panel);
    const signal = this.abort.signal;
    this.input.addEventListener("input", () => this.soon(), { signal });
    this.input.addEventListener("keydown", (e) => this.onKey(e), { signal });
    this.everywhere.addEventListener("click", () => this.setScope(null), { signal });
    this.exportButton.addEventListener("click", () => void this.export(), { signal });
    this.results.addEventListener(
      "click",
      (e) => {
        const li = (e.target as Element).closest?.<HTMLElement>("li.search-hit");
        const i = li ? Number(li.dataset.index) : -1;
        if (i >= 0) this.openHit(i);
      },
      { signal },
    );
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

  /** Opens the panel, searching `conversation` (null: everywhere). */
  show(conversation: string | null): void {
    if (!this.isOpen) this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.el.hidden = false;
    this.setScope(conversation);
    this.input.focus();
    this.input.select();
  }

  close(): void {
    if (!this.isOpen) return;
    this.el.hidden = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.asked++;
    this.returnFocus?.focus();
    this.returnFocus = null;
  }

  private setScope(conversation: string | null): void {
    this.scope = conversation;
    this.scopeLabel.textContent = conversation === null ? "In all conversations" : `In ${this.deps.titleOf(conversation)}`;
    this.everywhere.hidden = conversation === null;
    replaceChildren(
      this.exportScope,
      ...(conversation === null ? [] : [h("option", { value: conversation }, `This conversation (${this.deps.titleOf(conversation)})`)]),
      h("option", { value: "" }, "Everything"),
    );
    if (this.input.value.trim() !== "") void this.run();
    else this.showHits([], [], false, "");
  }

  private soon(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, SEARCH_DELAY);
  }

  /** Searches now (tests call it instead of waiting for the pause). */
  async run(): Promise<void> {
    const text = this.input.value.trim();
    const asked = ++this.asked;
    if (text === "") {
      this.showHits([], [], false, "");
      return;
    }
    this.status.textContent = "Searching…";
    try {
      const found = await this.deps.backend.search(text, this.scope, SEARCH_LIMIT);
      if (asked !== this.asked) return;
      const summary = found.hits.length === 0 ? "Nothing found on this device." : found.more ? `The newest ${found.hits.length} matches:` : found.hits.length === 1 ? "1 message" : `${found.hits.length} messages`;
      this.showHits(found.hits, found.words, found.more, summary);
    } catch (raw) {
      if (asked !== this.asked) return;
      const message = raw && typeof raw === "object" && "message" in raw ? String((raw as { message: unknown }).message) : String(raw);
      this.showHits([], [], false, "");
      this.status.textContent = message;
      this.status.classList.add("error");
    }
  }

  private showHits(hits: ChatMessage[], words: string[], _more: boolean, summary: string): void {
    this.hits = hits;
    this.selected = 0;
    this.status.textContent = summary;
    this.status.classList.remove("error");
    replaceChildren(
      this.results,
      ...hits.map((m, i) => {
        const trust = trustOf(m.trust);
        const flags: string[] = [];
        if (!m.mine && trust !== "signed" && trust !== "verified") flags.push(trust === "invalid" ? "forged" : trust === "keyChanged" ? "key changed" : "unverified");
        if (m.request) flags.push("request");
        return h(
          "li",
          { class: i === 0 ? "search-hit selected" : "search-hit", role: "option", "data-id": m.id, "data-conversation": m.conversation, "data-index": String(i), "aria-selected": String(i === 0) },
          h(
            "div",
            { class: "search-hit-head" },
            h("span", { class: "search-hit-sender" }, m.sender === "" ? "(plain text)" : m.sender),
            ...(flags.length > 0 ? [h("span", { class: "search-hit-flag" }, flags.join(", "))] : []),
            h("span", { class: "search-hit-where" }, this.deps.titleOf(m.conversation)),
            h("time", { class: "search-hit-time", dateTime: m.sentAt ?? m.receivedAt }, when(m)),
          ),
          h("div", { class: "search-hit-text" }, ...highlighted(m.content, words)),
        );
      }),
    );
  }

  private move(step: number): void {
    if (this.hits.length === 0) return;
    const items = this.results.children;
    items[this.selected]?.classList.remove("selected");
    items[this.selected]?.setAttribute("aria-selected", "false");
    this.selected = (this.selected + step + this.hits.length) % this.hits.length;
    const li = items[this.selected];
    li?.classList.add("selected");
    li?.setAttribute("aria-selected", "true");
    li?.scrollIntoView({ block: "nearest" });
  }

  private openHit(i: number): void {
    const hit = this.hits[i];
    if (!hit) return;
    this.returnFocus = null;
    this.close();
    this.deps.open(hit);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      this.move(1);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      this.move(-1);
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
        void this.run().then(() => this.openHit(0));
      } else this.openHit(this.selected);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    }
  }

  private async export(): Promise<void> {
    const conversation = this.exportScope.value === "" ? null : this.exportScope.value;
    const format = this.format.value as ExportFormat;
    this.exportButton.disabled = true;
    try {
      const done = await this.deps.backend.exportMessages(conversation, format);
      if (done) this.deps.exported(`${done.count} ${done.count === 1 ? "message" : "messages"} exported to ${done.path}`);
    } catch (raw) {
      const message = raw && typeof raw === "object" && "message" in raw ? String((raw as { message: unknown }).message) : String(raw);
      this.deps.problem(`Export failed: ${message}`);
    } finally {
      this.exportButton.disabled = false;
    }
  }

  dispose(): void {
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.el.remove();
  }
}
