// Persistent warnings across the top of the window, above the conversation list: states that
// need the user and must not scroll away or fade, e.g. an inbox stream overwritten or no longer
// readable (stream_* notices), the server refusing our credentials (auth_refused), or the
// local message store damaged or not writable (local_store). One per
// code: a repeat replaces the text and counts. Each stays until dismissed.
//
// Selectors (WebDriver tests): #warnings, .warning[data-code="<code>"] (data-count: how many
// times), .warning-text, button[data-dismiss="<code>"].

import { h, type Disposable } from "../dom";

/** Notice codes shown as a persistent warning (the others are ordinary notices). */
export function isPersistentNotice(code: string): boolean {
  return code.startsWith("stream_") || code === "auth_refused" || code === "local_store";
}

/** What a warning with `code` is about, said before the backend's own text. */
const TITLES: Record<string, string> = {
  stream_wrong_type: "Inbox damaged",
  stream_forbidden: "Inbox not readable",
  stream_reset: "Inbox reset",
  stream_exhausted: "Inbox full",
  stream_future_id: "Inbox tampered with",
  auth_refused: "Server refuses this account",
  local_store: "Message store on this computer",
};

/** Distinct codes shown at once (codes come from the backend; a newer one still fits). */
const MAX_WARNINGS = 12;

export class WarningBar implements Disposable {
  readonly el: HTMLElement;
  private readonly abort = new AbortController();
  private readonly items = new Map<string, { el: HTMLElement; count: number }>();

  constructor() {
    this.el = h("div", { class: "warnings", id: "warnings", role: "alert", hidden: true });
    this.el.addEventListener(
      "click",
      (e) => {
        const button = (e.target as Element).closest?.<HTMLElement>("button[data-dismiss]");
        if (button?.dataset.dismiss !== undefined) this.dismiss(button.dataset.dismiss);
      },
      { signal: this.abort.signal },
    );
  }

  /** Shows (or updates) the warning for `code`. */
  show(code: string, text: string): void {
    const old = this.items.get(code);
    if (!old && this.items.size >= MAX_WARNINGS) return;
    const count = (old?.count ?? 0) + 1;
    const title = TITLES[code] ?? "Problem";
    const el = h(
      "div",
      { class: "warning", "data-code": code, "data-count": String(count) },
      h("strong", { class: "warning-title" }, title),
      h("span", { class: "warning-text" }, text),
      count > 1 ? h("span", { class: "warning-count", title: "times this happened" }, `×${count}`) : null,
      h("button", { type: "button", class: "dismiss", "data-dismiss": code, "aria-label": `Dismiss: ${title}` }, "×"),
    );
    if (old) old.el.replaceWith(el);
    else this.el.append(el);
    this.items.set(code, { el, count });
    this.el.hidden = false;
  }

  /** Codes shown now. */
  get codes(): string[] {
    return [...this.items.keys()];
  }

  dismiss(code: string): void {
    this.items.get(code)?.el.remove();
    this.items.delete(code);
    this.el.hidden = this.items.size === 0;
  }

  clear(): void {
    for (const code of [...this.items.keys()]) this.dismiss(code);
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
