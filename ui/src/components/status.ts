// The status indicator: always says what the connection is doing, and why when it is down.

import { h, replaceChildren, type Disposable } from "../dom";

export type Phase = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected";

export interface StatusView {
  phase: Phase;
  user?: string;
  addr?: string;
  reason?: string | null;
}

export function statusText(view: StatusView): string {
  switch (view.phase) {
    case "idle":
      return "Not connected";
    case "connecting":
      return `Connecting to ${view.addr ?? "Redis"}…`;
    case "connected":
      return `Connected as ${view.user ?? "?"} · ${view.addr ?? ""}`;
    case "reconnecting":
      return `Reconnecting to ${view.addr ?? "Redis"}${view.reason ? ` — ${view.reason}` : ""}`;
    case "disconnected":
      return `Disconnected${view.reason ? ` — ${view.reason}` : ""}`;
  }
}

export class StatusIndicator implements Disposable {
  readonly el: HTMLElement;
  private view: StatusView = { phase: "idle" };

  constructor() {
    this.el = h("div", { class: "status", id: "status", role: "status", "aria-live": "polite" });
    this.render();
  }

  get phase(): Phase {
    return this.view.phase;
  }

  set(view: StatusView): void {
    this.view = view;
    this.render();
  }

  private render(): void {
    this.el.dataset.phase = this.view.phase;
    replaceChildren(this.el, h("span", { class: "dot", "aria-hidden": "true" }), h("span", { class: "text" }, statusText(this.view)));
    this.el.title = statusText(this.view);
  }

  dispose(): void {
    this.el.remove();
  }
}
