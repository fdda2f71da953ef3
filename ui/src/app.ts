// The window: wires the components to the backend. Flow: load the saved profile; re-attach to a live
// session after a page reload; otherwise connect with the saved settings, or open Settings
// on first run or when something is missing.

import { addressLine } from "./compose";
import { h } from "./dom";
import * as ipc from "./ipc";
import { ChatModel, type Change } from "./model";
import { probe, timed } from "./probe";
import { Composer } from "./components/composer";
import { MessageList } from "./components/messages";
import { SettingsDialog } from "./components/settings";
import { Sidebar } from "./components/sidebar";
import { StatusIndicator } from "./components/status";

export type Backend = typeof ipc;

export class App {
  readonly el: HTMLElement;
  readonly model = new ChatModel();
  private readonly status = new StatusIndicator();
  private readonly sidebar: Sidebar;
  private readonly messages = new MessageList();
  private readonly composer: Composer;
  private readonly settings: SettingsDialog;
  private readonly abort = new AbortController();
  private readonly connectButton: HTMLButtonElement;
  private profile: ipc.ProfileView | null = null;
  private addr = "";
  private localIds = 0;

  constructor(private readonly backend: Backend) {
    this.sidebar = new Sidebar((key) => this.select(key));
    this.composer = new Composer((line) => this.send(line));
    this.settings = new SettingsDialog({
      check: (c) => backend.checkConnection(c),
      submit: (request) => void this.connect(request),
      cancel: () => this.settings.hide(),
    });
    const settingsButton = h("button", { type: "button", id: "open-settings" }, "Settings");
    this.connectButton = h("button", { type: "button", id: "toggle-connection" }, "Connect");
    this.el = h(
      "div",
      { class: "app" },
      h("header", { class: "topbar" }, h("h1", {}, "Redchat"), this.status.el, h("div", { class: "tools" }, this.connectButton, settingsButton)),
      h("div", { class: "body" }, this.sidebar.el, h("main", { class: "main" }, this.messages.el, this.composer.el)),
      this.settings.el,
    );
    const signal = this.abort.signal;
    settingsButton.addEventListener("click", () => void this.openSettings(), { signal });
    this.connectButton.addEventListener("click", () => void this.toggleConnection(), { signal });
    this.renderAll();
    probe.view = () => this.messages.range;
    probe.scrollTop = () => this.messages.scrollToTop();
  }

  async start(): Promise<void> {
    this.profile = await this.backend.loadProfile();
    const attached = await this.backend.attach((batch) => this.onEvents(batch));
    if (attached) {
      this.onConnected(attached);
      return;
    }
    if (this.profile.profile.username) {
      await this.connect({ ...this.profile.profile });
    } else {
      this.settings.show(this.profile);
    }
  }

  private async openSettings(error: ipc.IpcError | null = null): Promise<void> {
    this.profile = await this.backend.loadProfile();
    this.settings.show(this.profile, error);
  }

  async connect(request: ipc.ConnectRequest): Promise<boolean> {
    this.addr = await this.backend
      .checkConnection(request.connection)
      .then((c) => c.addr)
      .catch(() => "");
    this.status.set({ phase: "connecting", addr: this.addr });
    this.settings.busy(true);
    try {
      const connected = await this.backend.connect(request, (batch) => this.onEvents(batch));
      this.onConnected(connected);
      this.settings.hide();
      return true;
    } catch (raw) {
      const error = ipc.toIpcError(raw);
      this.status.set({ phase: "disconnected", reason: error.message });
      this.connectButton.textContent = "Connect";
      await this.openSettings(error);
      return false;
    } finally {
      this.settings.busy(false);
    }
  }

  private onConnected(connected: ipc.Connected): void {
    this.model.me = connected.user;
    this.addr = connected.addr;
    this.status.set({ phase: "connected", user: connected.user, addr: connected.addr });
    this.connectButton.textContent = "Disconnect";
    this.composer.focus();
  }

  private async toggleConnection(): Promise<void> {
    if (this.status.phase === "connected" || this.status.phase === "reconnecting") {
      await this.backend.disconnect();
      this.status.set({ phase: "disconnected", reason: "you disconnected" });
      this.connectButton.textContent = "Connect";
      return;
    }
    // Reload: the profile saved by the last connect, not the one seen at start.
    const view = await this.backend.loadProfile();
    this.profile = view;
    if (view.profile.username) await this.connect({ ...view.profile });
    else this.settings.show(view);
  }

  onEvents(batch: ipc.SessionEvent[]): void {
    const began = probe.enabled ? performance.now() : 0;
    this.handleEvents(batch);
    if (probe.enabled) probe.busy += performance.now() - began;
  }

  private handleEvents(batch: ipc.SessionEvent[]): void {
    for (const event of batch) {
      if (event.kind !== "status") continue;
      if (event.state === "disconnected" && this.status.phase !== "connected" && this.status.phase !== "reconnecting") continue;
      this.status.set({ phase: event.state, user: event.user, addr: event.addr, reason: event.reason });
      this.connectButton.textContent = event.state === "disconnected" ? "Connect" : "Disconnect";
    }
    const changes = timed("model", () => this.model.apply(batch));
    if (probe.enabled) {
      for (const c of changes) if ("appended" in c) probe.received += c.appended.filter((e) => e.kind === "message").length;
    }
    this.applyChanges(changes);
  }

  private select(key: string): void {
    this.model.select(key);
    this.renderAll();
    this.composer.focus();
  }

  async send(line: string): Promise<boolean> {
    const open = this.model.active ? this.model.conversations.get(this.model.active) : undefined;
    const addressed = addressLine(line, open?.peer ?? null);
    if (!addressed.ok) {
      this.composer.showError(addressed.error);
      return false;
    }
    const { to, body } = addressed;
    if (this.model.active !== to) {
      this.model.open(to);
      this.renderAll();
    }
    const { entry, changes } = this.model.sending(to, body, `local-${++this.localIds}`);
    this.applyChanges(changes);
    try {
      const report = await this.backend.send(to, body);
      this.applyChanges(this.model.sent(to, entry, report));
      return true;
    } catch (raw) {
      const error = ipc.toIpcError(raw);
      this.applyChanges(this.model.failed(to, entry, error.message));
      this.composer.showError(error.message);
      return true;
    }
  }

  private applyChanges(changes: Change[]): void {
    let structural = false;
    for (const change of changes) {
      if ("appended" in change) {
        if (change.conversation === this.model.active) this.messages.append(change.conversation, change.appended);
        structural = true;
      } else {
        this.messages.update(change.conversation, change.updated);
      }
    }
    if (this.model.active === null && this.model.conversations.size > 0) {
      this.model.select(this.model.ordered()[0]?.key ?? null);
      this.renderAll();
      return;
    }
    if (structural) this.scheduleSidebar();
  }

  private sidebarPending = false;

  /** The sidebar re-renders at most once per frame, however many batches arrive. */
  private scheduleSidebar(): void {
    if (this.sidebarPending) return;
    this.sidebarPending = true;
    requestAnimationFrame(() => {
      this.sidebarPending = false;
      this.sidebar.render(this.model.ordered(), this.model.active);
    });
  }

  private renderAll(): void {
    const active = this.model.active ? (this.model.conversations.get(this.model.active) ?? null) : null;
    this.messages.show(active);
    this.sidebar.render(this.model.ordered(), this.model.active);
    this.composer.setPlaceholder(active?.peer ? `Message @${active.peer} — Enter to send` : "@bob hello there — Enter to send");
  }

  dispose(): void {
    this.abort.abort();
    for (const part of [this.status, this.sidebar, this.messages, this.composer, this.settings]) part.dispose();
    this.el.remove();
  }
}

