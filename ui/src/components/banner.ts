// Dismissable banners above the conversation: how many messages arrived while we were away,
// and notices from the backend (e.g. the server lost the stored inbox). Text only. Bounded: one
// banner per notice code (the latest text), and at most MAX_NOTICES without a code.
//
// Selectors (WebDriver tests): #banner, .banner[data-banner="notice"|"caught-up"][data-code],
// button[data-dismiss].

import { h, type Disposable } from "../dom";

/** "N messages arrived while you were away". */
export function awayText(n: number): string {
  return n === 1 ? "1 message arrived while you were away" : `${n} messages arrived while you were away`;
}

/** Notice banners without a code kept at once (the oldest goes first). */
const MAX_NOTICES = 5;

export class Banner implements Disposable {
  readonly el: HTMLElement;
  private readonly abort = new AbortController();
  /** Shown banners by key. */
  private readonly items = new Map<string, HTMLElement>();
  /** Messages counted by the caught-up banner still shown. */
  private away = 0;
  private notices = 0;

  constructor() {
    this.el = h("div", { class: "banners", id: "banner", role: "status", "aria-live": "polite", hidden: true });
    this.el.addEventListener(
      "click",
      (e) => {
        const button = (e.target as Element).closest?.<HTMLElement>("button[data-dismiss]");
        if (button?.dataset.dismiss) this.dismiss(button.dataset.dismiss);
      },
      { signal: this.abort.signal },
    );
  }

  /** `count` more messages arrived while away: adds them to the banner not yet dismissed. */
  caughtUp(count: number): void {
    if (count <= 0) return;
    this.away += count;
    this.put("caught-up", "caught-up", awayText(this.away));
  }

  /**
   * A notice from the backend: one banner per `code` (a repeat replaces its text); without a
   * code, the same text twice is shown once.
   */
  notice(text: string, code = ""): void {
    if (code) {
      this.put(`notice-${code}`, "notice", text, code);
      return;
    }
    const uncoded = [...this.items.entries()].filter(([, item]) => item.dataset.banner === "notice" && !item.dataset.code);
    if (uncoded.some(([, item]) => item.querySelector(".banner-text")?.textContent === text)) return;
    for (const [key] of uncoded.slice(0, Math.max(0, uncoded.length - MAX_NOTICES + 1))) this.dismiss(key);
    this.put(`notice-${++this.notices}`, "notice", text);
  }

  dismiss(key: string): void {
    this.items.get(key)?.remove();
    this.items.delete(key);
    if (key === "caught-up") this.away = 0;
    this.el.hidden = this.items.size === 0;
  }

  clear(): void {
    for (const key of [...this.items.keys()]) this.dismiss(key);
  }

  private put(key: string, kind: string, text: string, code?: string): void {
    const item = h(
      "div",
      { class: `banner ${kind}`, "data-banner": kind, "data-key": key, "data-code": code },
      h("span", { class: "banner-text" }, text),
      h("button", { type: "button", class: "dismiss", "data-dismiss": key, "aria-label": "Dismiss" }, "×"),
    );
    const old = this.items.get(key);
    if (old) old.replaceWith(item);
    else this.el.append(item);
    this.items.set(key, item);
    this.el.hidden = false;
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
