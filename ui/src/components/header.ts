// Above the open conversation: its name; for rooms and channels the user is in, a Leave button;
// for direct conversations, a button opening the contact panel (safety number); for a message
// request, a line with Accept and Block.
//
// Selectors (WebDriver tests): #conversation-title (`@bob`, `#team`, `~messages`; "Redchat"
// when nothing is open), #leave-room, #contact-info, #request-bar (hidden unless a request),
// #request-accept, #request-block, #mute-conversation (aria-pressed: muted).

import { h, type Disposable } from "../dom";
import type { Conversation } from "../model";
import { titleOf } from "../model";

export interface HeaderActions {
  leave(id: string): void;
  /** Open the contact panel of direct conversation `id`. */
  contactInfo(id: string): void;
  accept(id: string): void;
  block(id: string): void;
  /** Mute (no notifications) or unmute conversation `id`. */
  mute(id: string, muted: boolean): void;
}

export class ConversationHeader implements Disposable {
  readonly el: HTMLElement;
  private readonly title: HTMLElement;
  private readonly leave: HTMLButtonElement;
  private readonly info: HTMLButtonElement;
  private readonly requestBar: HTMLElement;
  private readonly requestText: HTMLElement;
  private readonly accept: HTMLButtonElement;
  private readonly block: HTMLButtonElement;
  private readonly muteButton: HTMLButtonElement;
  private readonly abort = new AbortController();
  private id: string | null = null;

  constructor(actions: HeaderActions) {
    this.title = h("h2", { class: "conversation-title", id: "conversation-title", dir: "auto" });
    this.leave = h("button", { type: "button", id: "leave-room", class: "leave", hidden: true }, "Leave");
    this.info = h("button", { type: "button", id: "contact-info", class: "contact-info", hidden: true }, "Safety number");
    this.muteButton = h("button", { type: "button", id: "mute-conversation", class: "mute", hidden: true, "aria-pressed": "false" }, "Mute");
    this.requestText = h("span", { class: "request-text" });
    this.accept = h("button", { type: "button", id: "request-accept", class: "primary" }, "Accept");
    this.block = h("button", { type: "button", id: "request-block" }, "Block");
    this.requestBar = h("div", { class: "request-bar", id: "request-bar", hidden: true }, this.requestText, this.accept, this.block);
    this.el = h("header", { class: "conversation-header" }, h("div", { class: "header-row" }, this.title, this.muteButton, this.info, this.leave), this.requestBar);
    const signal = this.abort.signal;
    const on = (button: HTMLButtonElement, action: (id: string) => void) =>
      button.addEventListener(
        "click",
        () => {
          if (this.id) action(this.id);
        },
        { signal },
      );
    on(this.leave, (id) => actions.leave(id));
    on(this.info, (id) => actions.contactInfo(id));
    on(this.accept, (id) => actions.accept(id));
    on(this.block, (id) => actions.block(id));
    on(this.muteButton, (id) => actions.mute(id, this.muteButton.getAttribute("aria-pressed") !== "true"));
  }

  /** Shows `c`; `muted`: whether it is muted. */
  show(c: Conversation | null, muted = false): void {
    this.id = c?.id ?? null;
    this.muteButton.hidden = !c;
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.muteButton.textContent = muted ? "Unmute" : "Mute";
    this.muteButton.title = muted ? "Notifications are off for this conversation" : "Turn off notifications for this conversation";
    const title = c ? (c.kind === "direct" ? `@${titleOf(c.id)}` : c.id) : "Redchat";
    if (this.title.textContent !== title) this.title.textContent = title;
    this.leave.hidden = !c || c.kind === "direct" || !c.joined;
    this.leave.setAttribute("aria-label", c ? `Leave ${c.id}` : "Leave");
    this.info.hidden = !c || c.kind !== "direct";
    const request = c !== null && c.request === "request";
    this.requestBar.hidden = !request;
    const text = request ? `${titleOf(c.id)} is not in your contacts. Accept (or reply) to make this a conversation, or block them.` : "";
    if (this.requestText.textContent !== text) this.requestText.textContent = text;
  }

  /** Accept or Block is in flight (or done) for the open request. */
  busy(busy: boolean): void {
    this.accept.disabled = this.block.disabled = busy;
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
