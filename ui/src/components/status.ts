// The status area: always says what the connection is doing, and why when it is down. While
// reconnecting it counts down to the next attempt (a local one-second timer started from the
// backend's retryInMs) and offers "Retry now"; it says how many messages wait in the outbox.
// The live region (#status) changes only when the status does: the ticking countdown is
// hidden from assistive technology so it is not read out every second.

import { h, type Disposable } from "../dom";
import type { DeliveryMode, Topology } from "../ipc";

export type Phase = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected";

export interface StatusView {
  phase: Phase;
  user?: string;
  addr?: string;
  reason?: string | null;
  /** Reconnect attempts in this outage. */
  attempt?: number;
  /** Milliseconds until the next attempt, while waiting for it. */
  retryInMs?: number | null;
  delivery?: DeliveryMode;
  /** The kind of deployment and how many data nodes it has. */
  topology?: Topology;
  nodes?: number;
}

/** "Standalone · 1 node", "Sentinel · 2 nodes" ("" before the first status names it). The bar
 * shows it for Sentinel and Cluster; a standalone server has it in the status tooltip. */
export function topologyText(view: StatusView): string {
  if (!view.topology) return "";
  const kind = { standalone: "Standalone", sentinel: "Sentinel", cluster: "Cluster" }[view.topology];
  const n = view.nodes ?? 0;
  if (n <= 0) return kind;
  return `${kind} · ${n === 1 ? "1 node" : `${n} nodes`}`;
}

/** The status line without the countdown and the reason. */
export function statusText(view: StatusView): string {
  switch (view.phase) {
    case "idle":
      return "Not connected";
    case "connecting":
      return `Connecting to ${view.addr ?? "Redis"}…`;
    case "connected":
      return `Connected as ${view.user ?? "?"} · ${view.addr ?? ""}`;
    case "reconnecting":
      return view.attempt ? `Reconnecting… attempt ${view.attempt}` : "Reconnecting…";
    case "disconnected":
      return "Disconnected";
  }
}

/** "N messages waiting to be sent" ("" for none). */
export function queuedText(n: number): string {
  if (n <= 0) return "";
  return n === 1 ? "1 message waiting to be sent" : `${n} messages waiting to be sent`;
}

export class StatusIndicator implements Disposable {
  readonly el: HTMLElement;
  private readonly line: HTMLElement;
  private readonly text: HTMLElement;
  private readonly countdown: HTMLElement;
  private readonly reason: HTMLElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly queuedLine: HTMLElement;
  private readonly mode: HTMLElement;
  private readonly kind: HTMLElement;
  private readonly abort = new AbortController();
  private view: StatusView = { phase: "idle" };
  private queuedCount = 0;
  /** When the next reconnect attempt is due (Date.now() scale), while counting down. */
  private deadline: number | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(onRetryNow: () => Promise<void> = () => Promise.resolve()) {
    this.text = h("span", { class: "text" });
    this.countdown = h("span", { class: "countdown", id: "retry-countdown", "aria-hidden": "true" });
    this.reason = h("span", { class: "reason" });
    this.line = h(
      "div",
      { class: "status", id: "status", role: "status", "aria-live": "polite" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "line" }, this.text, this.countdown, this.reason),
    );
    this.retryButton = h("button", { type: "button", id: "retry-now", hidden: true }, "Retry now");
    this.queuedLine = h("span", { class: "queued", id: "queued", "aria-live": "polite", hidden: true });
    this.mode = h(
      "span",
      { class: "mode", id: "delivery-mode", hidden: true, title: "Live-only delivery: messages to people who are offline are lost, and there is no history." },
      "Live only",
    );
    this.kind = h("span", {
      class: "mode",
      id: "topology",
      hidden: true,
      title: "The kind of Redis deployment and its data nodes (behind Sentinel: the master and its replicas)",
    });
    this.el = h("div", { class: "status-area", id: "status-area" }, this.line, this.retryButton, this.queuedLine, this.mode, this.kind);
    this.retryButton.addEventListener(
      "click",
      () => {
        this.retryButton.disabled = true;
        this.stopCountdown();
        this.countdown.textContent = ", trying now…";
        onRetryNow().catch((e: unknown) => {
          this.retryButton.disabled = false;
          this.reason.textContent = ` — retry failed: ${e instanceof Error ? e.message : String(e)}`;
        });
      },
      { signal: this.abort.signal },
    );
    this.render();
  }

  get phase(): Phase {
    return this.view.phase;
  }

  /** The deployment the last status named. */
  get topology(): Pick<StatusView, "topology" | "nodes"> {
    const known: Pick<StatusView, "topology" | "nodes"> = {};
    if (this.view.topology !== undefined) known.topology = this.view.topology;
    if (this.view.nodes !== undefined) known.nodes = this.view.nodes;
    return known;
  }

  get delivery(): DeliveryMode | undefined {
    return this.view.delivery;
  }

  set(view: StatusView): void {
    this.view = view;
    this.stopCountdown();
    if (view.phase === "reconnecting" && view.retryInMs !== undefined && view.retryInMs !== null) {
      this.deadline = Date.now() + view.retryInMs;
      this.timer = setInterval(() => this.tick(), 1000);
    }
    this.render();
  }

  /** Messages waiting in the outbox. */
  setQueued(n: number): void {
    if (n === this.queuedCount) return;
    this.queuedCount = n;
    this.queuedLine.hidden = n <= 0;
    this.queuedLine.dataset.count = String(n);
    this.queuedLine.textContent = queuedText(n);
  }

  private render(): void {
    const v = this.view;
    this.line.dataset.phase = v.phase;
    this.line.dataset.attempt = String(v.attempt ?? 0);
    this.text.textContent = statusText(v);
    const down = v.phase === "reconnecting" || v.phase === "disconnected";
    this.reason.textContent = down && v.reason ? ` — ${v.reason}` : "";
    this.tick();
    this.retryButton.hidden = v.phase !== "reconnecting";
    this.retryButton.disabled = false;
    this.mode.hidden = v.delivery !== "liveOnly" || v.phase === "idle" || v.phase === "disconnected";
    this.kind.textContent = topologyText(v);
    this.kind.dataset.topology = v.topology ?? "";
    // A standalone server is the usual case: named in the tooltip, not given room in the bar.
    this.kind.hidden = this.kind.textContent === "" || v.topology === "standalone" || v.phase === "idle" || v.phase === "disconnected";
    this.line.title = [v.phase === "reconnecting" && v.addr ? `Reconnecting to ${v.addr}` : "", this.line.textContent, topologyText(v)].filter(Boolean).join(": ");
  }

  private tick(): void {
    if (this.deadline === null) {
      this.countdown.textContent = "";
      return;
    }
    const seconds = Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
    this.countdown.textContent = seconds > 0 ? `, next try in ${seconds} s` : ", trying now…";
    if (seconds === 0) this.stopCountdown();
  }

  private stopCountdown(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.deadline = null;
  }

  dispose(): void {
    this.stopCountdown();
    this.abort.abort();
    this.el.remove();
  }
}
