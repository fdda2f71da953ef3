// The window: wires the components to the backend. Flow: load the saved profile; re-attach to a live
// session after a page reload; otherwise connect with the saved settings, or open Settings
// on first run or when something is missing. Once connected, the newest history is merged in;
// older pages load per conversation when its top is reached. Sending puts a message in the
// backend's outbox; its entry then follows the `outgoing` events.

import { addressLine } from "./compose";
import { h } from "./dom";
import * as ipc from "./ipc";
import { ChatModel, type Change } from "./model";
import { probe, timed } from "./probe";
import { Banner } from "./components/banner";
import { Composer } from "./components/composer";
import { MessageList } from "./components/messages";
import { SettingsDialog } from "./components/settings";
import { Sidebar } from "./components/sidebar";
import { StatusIndicator, type StatusView } from "./components/status";

export type Backend = typeof ipc;

/** Messages asked for right after connecting (all conversations). */
export const RECENT_HISTORY = 200;
/** Messages asked for per "load older" of one conversation. */
export const OLDER_PAGE = 60;
/** Pages fetched in a row while they bring nothing new for the conversation. */
const EMPTY_PAGES = 5;

export class App {
  readonly el: HTMLElement;
  readonly model = new ChatModel();
  private readonly status: StatusIndicator;
  private readonly sidebar: Sidebar;
  private readonly messages: MessageList;
  private readonly banner = new Banner();
  private readonly composer: Composer;
  private readonly settings: SettingsDialog;
  private readonly abort = new AbortController();
  private readonly connectButton: HTMLButtonElement;
  private profile: ipc.ProfileView | null = null;
  private addr = "";
  private mode: ipc.DeliveryMode = "durable";
  /** The outbox length in the last status event. */
  private queuedReported = 0;
  /** Bumped per connect, so a late first history page of an earlier session is dropped. */
  private session = 0;
  /** The newest history has been merged for this session (else: load it once connected). */
  private recentLoaded = false;

  constructor(private readonly backend: Backend) {
    this.status = new StatusIndicator(() => backend.retryNow());
    this.messages = new MessageList({
      retry: (id) => void this.retry(id),
      loadOlder: (key) => void this.loadOlder(key),
    });
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
      h("div", { class: "body" }, this.sidebar.el, h("main", { class: "main" }, this.banner.el, this.messages.el, this.composer.el)),
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
      // At start-up the network may not be there yet (a laptop waking up): keep trying, with
      // the outbox kept, rather than greeting the user with an error.
      await this.connect({ ...this.profile.profile, keepTrying: true });
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
    this.showStatus({ phase: "connecting", addr: this.addr });
    this.settings.busy(true);
    try {
      const connected = await this.backend.connect(request, (batch) => this.onEvents(batch));
      this.onConnected(connected);
      this.settings.hide();
      return true;
    } catch (raw) {
      const error = ipc.toIpcError(raw);
      this.showStatus({ phase: "disconnected", reason: error.message });
      this.messages.setOnline(false);
      this.connectButton.textContent = "Connect";
      await this.openSettings(error);
      return false;
    } finally {
      this.settings.busy(false);
    }
  }

  private onConnected(connected: ipc.Connected): void {
    if (this.model.me !== null && this.model.me !== connected.user) {
      // Someone else's inbox now: nothing shown so far is theirs.
      this.model.clear();
      this.banner.clear();
      this.renderAll();
    }
    this.model.me = connected.user;
    this.addr = connected.addr;
    this.mode = connected.delivery ?? "durable";
    // After a keep-trying start the server may not be there yet: status events take over.
    const online = connected.online !== false;
    this.showStatus({ phase: online ? "connected" : "reconnecting", user: connected.user, addr: connected.addr, delivery: this.mode });
    this.messages.setOnline(online);
    this.recentLoaded = false;
    this.connectButton.textContent = "Disconnect";
    this.composer.focus();
    if (online) void this.loadRecent();
  }

  /** Merges the newest history of all conversations; older pages start below it. */
  private async loadRecent(): Promise<void> {
    const session = ++this.session;
    if (this.mode === "liveOnly") {
      this.model.setHistory(undefined, true);
      this.messages.refreshEdge();
      return;
    }
    try {
      const page = await this.backend.history(null, null, RECENT_HISTORY);
      if (session !== this.session) return;
      const changes = this.model.mergeHistory(page.messages);
      this.model.setHistory(page.more, false);
      this.applyChanges(changes);
      this.recentLoaded = true;
    } catch {
      // Not fatal: each conversation loads its own history from the newest when asked.
      if (session !== this.session) return;
      this.model.setHistory(undefined, false);
    }
    this.messages.refreshEdge();
  }

  /** Loads the page of history before the oldest entry of conversation `key`. */
  async loadOlder(key: string): Promise<void> {
    const c = this.model.conversations.get(key);
    if (!c?.peer || (c.older.state !== "idle" && c.older.state !== "error")) return;
    const peer = c.peer;
    let cursor = c.older.cursor;
    c.older = { state: "loading", cursor, error: null };
    this.messages.refreshEdge(key);
    try {
      for (let pages = 0; pages < EMPTY_PAGES; pages++) {
        const page = await this.backend.history(peer, cursor, OLDER_PAGE);
        // Another user connected meanwhile: this conversation is gone.
        if (this.model.conversations.get(key) !== c) return;
        const changes = this.model.mergeHistory(page.messages);
        cursor = page.more;
        c.older = { state: cursor ? "loading" : "end", cursor, error: null };
        this.applyChanges(changes);
        // A page of messages already shown (e.g. the newest ones, when nothing was known)
        // brings nothing: go on to the next.
        if (!cursor || changes.some((change) => change.conversation === key)) break;
      }
      if (c.older.state === "loading") c.older = { state: "idle", cursor, error: null };
    } catch (raw) {
      if (this.model.conversations.get(key) !== c) return;
      c.older = { state: "error", cursor, error: ipc.toIpcError(raw).message };
    }
    this.messages.refreshEdge(key);
  }

  private async toggleConnection(): Promise<void> {
    if (this.status.phase === "connected" || this.status.phase === "reconnecting") {
      await this.backend.disconnect();
      this.showStatus({ phase: "disconnected", reason: "you disconnected", delivery: this.mode });
      this.messages.setOnline(false);
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
      switch (event.kind) {
        case "status":
          this.onStatus(event);
          break;
        case "caughtUp":
          this.banner.caughtUp(event.count);
          break;
        case "notice":
          this.banner.notice(event.text);
          break;
        default:
          break;
      }
    }
    const changes = timed("model", () => this.model.apply(batch));
    if (probe.enabled) {
      for (const c of changes) if ("appended" in c) probe.received += c.appended.filter((e) => e.kind === "message").length;
    }
    this.applyChanges(changes);
  }

  private onStatus(event: ipc.Status): void {
    if (event.state === "disconnected" && this.status.phase !== "connected" && this.status.phase !== "reconnecting") return;
    this.queuedReported = event.queued ?? 0;
    this.showStatus({
      phase: event.state,
      user: event.user,
      addr: event.addr,
      reason: event.reason,
      attempt: event.attempt,
      retryInMs: event.retryInMs,
      delivery: event.delivery,
    });
    this.connectButton.textContent = event.state === "disconnected" ? "Connect" : "Disconnect";
    this.messages.setOnline(event.state === "connected");
    if (event.delivery && event.delivery !== this.mode) {
      this.mode = event.delivery;
      this.model.setHistory(undefined, this.mode === "liveOnly");
      this.messages.refreshEdge();
    }
    // Started while the server was away, or the first load failed: load it now.
    if (event.state === "connected" && !this.recentLoaded && this.model.me !== null) void this.loadRecent();
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
    try {
      const message = await this.backend.send(to, body);
      this.applyChanges(this.model.accepted(message));
      return true;
    } catch (raw) {
      // Not even queued (invalid, too large, outbox unwritable…): the typed text stays.
      this.composer.showError(ipc.toIpcError(raw).message);
      return false;
    }
  }

  /** Queues the failed message `id` again; its entry follows the `outgoing` events. */
  private async retry(id: string): Promise<void> {
    try {
      await this.backend.retryMessage(id);
    } catch (raw) {
      this.applyChanges(this.model.retryFailed(id, ipc.toIpcError(raw).message));
    }
  }

  private showStatus(view: StatusView): void {
    this.status.set(view);
    this.status.setQueued(this.queuedCount());
  }

  /**
   * Messages waiting in the outbox, shown while they wait for the connection (and, after a
   * reconnect, while the backlog drains). Every one has an entry here sooner or later
   * (outgoing events cover those of earlier runs too) and its state changes come as events, so
   * the entries are the live count; a status event (one per reconnect attempt) may know of
   * more before the outbox of an earlier run has been announced. While connected, a message
   * passes through "queued" in moments: counting it would only flicker.
   */
  private queuedCount(): number {
    const known = this.model.queued.size;
    if (this.status.phase !== "connected") return Math.max(known, this.queuedReported);
    return this.queuedReported > 0 ? known : 0;
  }

  private applyChanges(changes: Change[]): void {
    let structural = false;
    for (const change of changes) {
      if ("appended" in change) {
        if (change.conversation === this.model.active) this.messages.append(change.conversation, change.appended);
        structural = true;
      } else if ("prepended" in change) {
        this.messages.prepend(change.conversation, change.prepended);
        structural = true;
      } else if ("reordered" in change) {
        this.messages.reload(change.conversation);
        structural = true;
      } else {
        this.messages.update(change.conversation, change.updated);
      }
    }
    this.status.setQueued(this.queuedCount());
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
    for (const part of [this.status, this.banner, this.sidebar, this.messages, this.composer, this.settings]) part.dispose();
    this.el.remove();
  }
}

