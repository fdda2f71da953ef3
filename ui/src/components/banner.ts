// Dismissable banners above the conversation: how many messages arrived while we were away,
// and notices from the backend (e.g. the server lost the stored inbox). Text only.

import { h, type Disposable } from "../dom";

/** "N messages arrived while you were away". */
export function awayText(n: number): string {
  return n === 1 ? "1 message arrived while you were away" : `${n} messages arrived while you were away`;
}

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

  /** A notice from the backend; the same text twice is shown once. */
  notice(text: string): void {
    for (const item of this.items.values()) {
      if (item.dataset.banner === "notice" && item.querySelector(".banner-text")?.textContent === text) return;
    }
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

  private put(key: string, kind: string, text: string): void {
    const item = h(
      "div",
      { class: `banner ${kind}`, "data-banner": kind, "data-key": key },
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
