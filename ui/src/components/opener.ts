// The "new conversation" box at the top of the sidebar: `#team` joins (or creates) the room,
// `~messages` joins the raw channel, `@bob` or `bob` opens a direct conversation. Enter opens;
// a problem shows under the box and the text stays.
//
// Selectors (WebDriver tests): #new-conversation (the input), #new-conversation-error.

import { h, type Disposable } from "../dom";

export class ConversationOpener implements Disposable {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly abort = new AbortController();

  /** `onOpen` opens what was typed and resolves to a problem to show, or null when done. */
  constructor(onOpen: (text: string) => Promise<string | null>) {
    this.input = h("input", {
      id: "new-conversation",
      type: "text",
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "#room, @name or ~channel",
      "aria-label": "New conversation: #room, @name or ~channel",
      "aria-describedby": "new-conversation-error",
    });
    this.error = h("p", { class: "error", id: "new-conversation-error", role: "alert" });
    const form = h("form", { class: "opener" }, this.input);
    this.el = h("div", { class: "opener-wrap" }, form, this.error);
    const signal = this.abort.signal;
    form.addEventListener(
      "submit",
      (e) => {
        e.preventDefault();
        const text = this.input.value;
        if (text.trim().length === 0) return;
        void onOpen(text).then((problem) => {
          this.showError(problem);
          if (problem === null && this.input.value === text) this.input.value = "";
        });
      },
      { signal },
    );
    this.input.addEventListener("input", () => this.showError(null), { signal });
  }

  showError(message: string | null): void {
    this.error.textContent = message ?? "";
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
