// The line you type into. Enter sends; Shift+Enter is a new line. Errors show inline and the
// text stays, so nothing typed is lost. Lines starting with `/` are commands (/join #room,
// /leave, /who); every input event is reported (the app sends typing signals from it).
//
// Selectors (WebDriver tests): #compose, #send, #compose-error.

import { h, type Disposable } from "../dom";
import type { Conversation } from "../model";

/** What the empty composer says for the open conversation `c`. */
export function placeholder(c: Conversation | null): string {
  if (!c) return "@bob hello there — Enter to send";
  if (c.request === "request") return `Reply to ${c.title} (this accepts the request) — Enter to send`;
  if (c.kind === "room") return `Message ${c.id} (@name mentions someone) — Enter to send`;
  return `Message ${c.id} — Enter to send`;
}

export class Composer implements Disposable {
  readonly el: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly error: HTMLElement;
  private readonly abort = new AbortController();

  constructor(onSend: (line: string) => Promise<boolean>, onInput: (value: string) => void = () => undefined) {
    this.input = h("textarea", { id: "compose", rows: "1", placeholder: "@bob hello there — Enter to send", "aria-label": "Message" });
    this.error = h("p", { class: "error", id: "compose-error", role: "alert" });
    const button = h("button", { type: "submit", id: "send", class: "primary" }, "Send");
    const form = h("form", { class: "composer" }, this.input, button);
    this.el = h("div", { class: "composer-wrap" }, this.error, form);
    const signal = this.abort.signal;
    const submit = async () => {
      const line = this.input.value;
      if (line.trim().length === 0) return;
      if (await onSend(line)) this.input.value = "";
    };
    this.input.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          void submit();
        }
      },
      { signal },
    );
    this.input.addEventListener(
      "input",
      () => {
        this.showError(null);
        onInput(this.input.value);
      },
      { signal },
    );
    form.addEventListener(
      "submit",
      (e) => {
        e.preventDefault();
        void submit();
      },
      { signal },
    );
  }

  showError(message: string | null): void {
    this.error.textContent = message ?? "";
  }

  setPlaceholder(text: string): void {
    if (this.input.placeholder !== text) this.input.placeholder = text;
  }

  focus(): void {
    this.input.focus();
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
