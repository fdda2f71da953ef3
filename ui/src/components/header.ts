// Above the open conversation: its name and, for rooms and channels the user is in, a Leave
// button.
//
// Selectors (WebDriver tests): #conversation-title (`@bob`, `#team`, `~messages`; "Redchat"
// when nothing is open), #leave-room.

import { h, type Disposable } from "../dom";
import type { Conversation } from "../model";

export class ConversationHeader implements Disposable {
  readonly el: HTMLElement;
  private readonly title: HTMLElement;
  private readonly leave: HTMLButtonElement;
  private readonly abort = new AbortController();
  private id: string | null = null;

  constructor(onLeave: (id: string) => void) {
    this.title = h("h2", { class: "conversation-title", id: "conversation-title" });
    this.leave = h("button", { type: "button", id: "leave-room", class: "leave", hidden: true }, "Leave");
    this.el = h("header", { class: "conversation-header" }, this.title, this.leave);
    this.leave.addEventListener(
      "click",
      () => {
        if (this.id) onLeave(this.id);
      },
      { signal: this.abort.signal },
    );
  }

  show(c: Conversation | null): void {
    this.id = c?.id ?? null;
    const title = c ? c.id : "Redchat";
    if (this.title.textContent !== title) this.title.textContent = title;
    this.leave.hidden = !c || c.kind === "direct" || !c.joined;
    this.leave.setAttribute("aria-label", c ? `Leave ${c.id}` : "Leave");
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
