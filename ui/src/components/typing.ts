// "bob is typing…" under the message list of the open conversation. Only this line changes
// when typing signals arrive, however many: the message list is not touched.
//
// Selector (WebDriver tests): #typing (empty, with data-count="0", when nobody is typing).

import { h, type Disposable } from "../dom";

/** What the indicator says for `users` (in the order they started typing). */
export function typingText(users: string[]): string {
  const [a, b] = users;
  if (users.length === 0 || a === undefined) return "";
  if (users.length === 1) return `${a} is typing…`;
  if (users.length === 2 && b !== undefined) return `${a} and ${b} are typing…`;
  return "several people are typing…";
}

export class TypingIndicator implements Disposable {
  readonly el: HTMLElement;

  constructor() {
    this.el = h("div", { class: "typing", id: "typing", "aria-live": "polite", "data-count": "0" });
  }

  set(users: string[]): void {
    const text = typingText(users);
    if (this.el.textContent !== text) this.el.textContent = text;
    const count = String(users.length);
    if (this.el.dataset.count !== count) this.el.dataset.count = count;
  }

  dispose(): void {
    this.el.remove();
  }
}
