// The window: wires the components to the backend. Flow: load the saved profile; re-attach to a live
// session after a page reload; otherwise connect with the saved settings, or open Settings
// on first run or when something is missing. Once connected, the newest history is merged in;
// older pages load per conversation when its top is reached. Sending puts a message in the
// backend's outbox; its entry then follows the `outgoing` events.
//
// Conversations are direct (`@bob`), rooms (`#team`) and raw channels (`~messages`), as the
// events name them. Unread counts are the core's; the window marks the open conversation read
// while it has focus (and then shows no badge for it). Typing signals only touch the typing
// line, never the message list.
//
// Messages carry the core's verdict on who sent them (trust.ts); direct conversations from
// people who are not contacts yet are message requests, listed apart until accepted, answered
// or blocked (people.ts). Notices that are states needing the user (an inbox stream damaged or
// unreadable, credentials refused) stay as warnings across the top until dismissed.
//
// Selectors (WebDriver tests): #open-settings, #toggle-connection; the components document
// theirs (sidebar.ts, requests.ts, opener.ts, who.ts, header.ts, members.ts, contact.ts,
// messages.ts, typing.ts, composer.ts, settings.ts, status.ts, banner.ts, warnings.ts) and
// trust.ts the trust marks of messages.

import { normaliseName, readLine, readTarget, type Command } from "./compose";
import { h } from "./dom";
import * as ipc from "./ipc";
import { ChatModel, type Change, type Conversation } from "./model";
import { People } from "./people";
import { Desk, switcherItems } from "./desk";
import { History } from "./history";
import { restore } from "./prefs";
import { applyTheme, loadTheme } from "./theme";
import { probe, timed } from "./probe";
import { ReadMarker, TypingSender } from "./signals";
import { Banner } from "./components/banner";
import { Composer, placeholder } from "./components/composer";
import { ConversationHeader } from "./components/header";
import { MemberPanel } from "./components/members";
import { MessageList } from "./components/messages";
import { ConversationOpener } from "./components/opener";
import { SearchPanel } from "./components/search";
import { requestOf, SettingsDialog } from "./components/settings";
import { Sidebar, type SidebarItem } from "./components/sidebar";
import { StatusIndicator, type StatusView } from "./components/status";
import { TypingIndicator } from "./components/typing";
import { WarningBar, isPersistentNotice } from "./components/warnings";
import { WhoList } from "./components/who";

export type Backend = typeof ipc;

export interface AppOptions {
  /** The clock (ms since the epoch) for typing signals; Date.now by default. */
  now?: () => number;
  /** Whether the window has focus (read positions move only while it does). */
  hasFocus?: () => boolean;
}

export { OLDER_PAGE, RECENT_HISTORY } from "./history";

export class App {
  readonly el: HTMLElement;
  readonly model = new ChatModel();
  private readonly status: StatusIndicator;
  private readonly sidebar: Sidebar;
  private readonly opener: ConversationOpener;
  private readonly who: WhoList;
  private readonly header: ConversationHeader;
  private readonly members = new MemberPanel();
  private readonly messages: MessageList;
  private readonly typing = new TypingIndicator();
  private readonly banner = new Banner();
  private readonly warnings = new WarningBar();
  private readonly people: People;
  private readonly composer: Composer;
  private readonly settings: SettingsDialog;
  private readonly desk: Desk;
  private readonly search: SearchPanel;
  private readonly abort = new AbortController();
  private readonly connectButton: HTMLButtonElement;
  private readonly now: () => number;
  private readonly hasFocus: () => boolean;
  private profile: ipc.ProfileView | null = null;
  private addr = "";
  private mode: ipc.DeliveryMode = "durable";
  /** The outbox length in the last status event. */
  private queuedReported = 0;
  private readonly history: History;
  /** When the typing line next needs redrawing (a signal expires). */
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly typingSender: TypingSender;
  private readonly readMarker: ReadMarker;
  private sidebarPending = false;

  constructor(
    private readonly backend: Backend,
    options: AppOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.hasFocus = options.hasFocus ?? (() => document.hasFocus());
    this.typingSender = new TypingSender((id) => backend.typing(id), this.now);
    this.readMarker = new ReadMarker((id) => backend.markRead(id));
    this.status = new StatusIndicator(() => backend.retryNow());
    this.history = new History({
      backend,
      model: this.model,
      apply: (changes) => this.applyChanges(changes),
      refreshEdge: (id) => this.messages.refreshEdge(id),
      liveOnly: () => this.mode === "liveOnly",
    });
    this.messages = new MessageList({
      retry: (id) => void this.retry(id),
      loadOlder: (id) => void this.history.loadOlder(id),
      openLink: (url) => this.desk.openLink(url),
      jumpToLatest: (id) => void this.history.toLatest(id),
    }, { now: this.now });
    this.search = new SearchPanel({
      backend,
      open: (hit) => void this.openHit(hit.conversation, hit.id),
      titleOf: (id) => this.model.conversations.get(id)?.title ?? id,
      problem: (text) => this.composer.showError(text),
      exported: (text) => this.composer.showError(text),
    });
    this.sidebar = new Sidebar((id) => this.select(id));
    this.people = new People({
      model: this.model,
      backend,
      select: (id) => this.select(id),
      changed: () => {
        this.renderSidebar();
        this.showHeader();
        this.composer.setPlaceholder(placeholder(this.active()));
      },
      problem: (text) => this.composer.showError(text),
      unread: (c) => this.shownUnread(c).count,
      busy: (busy) => this.header.busy(busy),
      reconnect: () => this.reconnect(),
    });
    this.opener = new ConversationOpener((text) => this.openTarget(text));
    this.who = new WhoList((user) => this.openDirect(user));
    this.header = new ConversationHeader({
      leave: (id) => void this.leaveRoom(id).then((problem) => this.composer.showError(problem)),
      contactInfo: (id) => this.people.toggleContact(id),
      accept: (id) => void this.people.accept(id),
      block: (id) => void this.people.block(id),
      mute: (id, muted) => {
        this.desk.notifier.setMuted(id, muted);
        this.showHeader();
        this.renderSidebar();
      },
    });
    this.composer = new Composer(
      (line) => this.send(line),
      (value) => this.typingSender.input(this.active(), value),
    );
    this.settings = new SettingsDialog({
      check: (c) => backend.checkConnection(c),
      doctor: (r) => backend.doctor(r),
      pickFile: (title) => backend.pickFile(title),
      openLogs: () => backend.openLogsFolder(),
      submit: (request) => void this.connect(request),
      cancel: () => this.settings.hide(),
    });
    this.desk = new Desk({
      backend,
      hasFocus: () => this.hasFocus(),
      items: () => switcherItems(this.model, (c) => this.shownUnread(c).count),
      order: () => this.sidebar.order(),
      active: () => this.model.active,
      select: (id) => this.select(id),
      closePanel: () => this.closePanel(),
      modal: () => this.settings.visible,
      problem: (text) => this.composer.showError(text),
      search: this.search,
    });
    const searchButton = h("button", { type: "button", id: "open-search", title: "Search messages (Ctrl+Shift+F)" }, "Search");
    searchButton.addEventListener("click", () => this.search.show(null));
    const settingsButton = h("button", { type: "button", id: "open-settings" }, "Settings");
    this.connectButton = h("button", { type: "button", id: "toggle-connection" }, "Connect");
    this.el = h(
      "div",
      { class: "app" },
      h("header", { class: "topbar" }, h("h1", {}, "Redchat"), this.status.el, h("div", { class: "tools" }, searchButton, this.desk.dndButton, this.connectButton, settingsButton)),
      this.warnings.el,
      h(
        "div",
        { class: "body" },
        h("nav", { class: "sidebar", "aria-label": "Conversations" }, this.opener.el, this.people.requests.el, this.sidebar.el, this.who.el),
        h("main", { class: "main" }, this.banner.el, this.header.el, this.messages.el, this.typing.el, this.composer.el),
        this.members.el,
        this.people.contact.el,
      ),
      this.settings.el,
      this.desk.switcher.el,
      this.search.el,
    );
    const signal = this.abort.signal;
    settingsButton.addEventListener("click", () => void this.openSettings(), { signal });
    this.connectButton.addEventListener("click", () => void this.toggleConnection(), { signal });
    // Coming back to the window reads the open conversation; leaving it shows its badge again.
    window.addEventListener(
      "focus",
      () => {
        this.desk.notifier.focused();
        this.readActive();
        this.renderSidebar();
      },
      { signal },
    );
    window.addEventListener("blur", () => this.renderSidebar(), { signal });
    this.renderAll();
    probe.view = () => this.messages.range;
    probe.scrollTop = () => this.messages.scrollToTop();
  }

  async start(): Promise<void> {
    this.desk.start();
    // Preferences the shell kept (the theme, mutes) win over what WebKit may have lost.
    if (await restore()) applyTheme(loadTheme());
    this.profile = await this.backend.loadProfile();
    const attached = await this.backend.attach((batch) => this.onEvents(batch));
    if (attached) {
      this.onConnected(attached);
      return;
    }
    if (this.profile.profile.username) {
      // At start-up the network may not be there yet (a laptop waking up): keep trying, with
      // the outbox kept, rather than greeting the user with an error.
      await this.connect({ ...requestOf(this.profile.profile), keepTrying: true });
    } else {
      this.settings.show(this.profile);
    }
  }

  private async openSettings(error: ipc.IpcError | null = null, request: ipc.ConnectRequest | null = null): Promise<void> {
    this.profile = await this.backend.loadProfile();
    this.settings.show(this.profile, error, request);
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
      await this.openSettings(error, request);
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
      this.warnings.clear();
      this.people.reset();
      this.renderAll();
    }
    this.model.me = connected.user;
    this.desk.notifier.setUser(connected.user);
    this.addr = connected.addr;
    this.mode = connected.delivery ?? "durable";
    this.who.setSharing(connected.sharePresence !== false);
    // After a keep-trying start the server may not be there yet: status events take over.
    const online = connected.online !== false;
    this.showStatus({ phase: online ? "connected" : "reconnecting", user: connected.user, addr: connected.addr, delivery: this.mode });
    this.messages.setOnline(online);
    this.history.recentLoaded = false;
    this.connectButton.textContent = "Disconnect";
    this.composer.focus();
    // At once from the local store, even before the server answers; Redis fills in.
    void this.history.loadRecent();
  }

  /** A search hit was chosen: its conversation, scrolled to it. */
  private async openHit(conversation: string, id: string): Promise<void> {
    if (!(await this.history.openAt(conversation, id))) {
      this.composer.showError("That message is no longer stored on this device.");
      return;
    }
    this.select(conversation);
    const c = this.active();
    if (c) this.messages.reveal(c, id);
  }

  /** The Disconnect / Connect button (#toggle-connection). */
  private async toggleConnection(): Promise<void> {
    if (this.isLive()) await this.disconnect();
    else await this.connectSaved();
  }

  private isLive(): boolean {
    return this.status.phase === "connected" || this.status.phase === "reconnecting";
  }

  private async disconnect(): Promise<void> {
    await this.backend.disconnect();
    this.showStatus({ phase: "disconnected", reason: "you disconnected", delivery: this.mode });
    this.messages.setOnline(false);
    this.connectButton.textContent = "Connect";
  }

  /** Connects with the saved profile (Settings when there is none). */
  private async connectSaved(): Promise<void> {
    // Reload: the profile saved by the last connect, not the one seen at start.
    const view = await this.backend.loadProfile();
    this.profile = view;
    if (view.profile.username) await this.connect(requestOf(view.profile));
    else this.settings.show(view);
  }

  /**
   * Disconnect, then Connect with the saved profile, as the two presses of #toggle-connection
   * do (after an identity import: the new session signs with the new key).
   */
  async reconnect(): Promise<void> {
    if (this.isLive()) {
      try {
        await this.disconnect();
      } catch {
        // Connecting replaces whatever session is left anyway.
      }
    }
    await this.connectSaved();
  }

  onEvents(batch: ipc.SessionEvent[]): void {
    const began = probe.enabled ? performance.now() : 0;
    this.desk.notifier.observe(batch);
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
        case "notice": {
          const code = typeof event.code === "string" ? event.code : "";
          if (isPersistentNotice(code)) this.warnings.show(code, event.text);
          else this.banner.notice(event.text, code);
          break;
        }
        default:
          break;
      }
    }
    const changes = timed("model", () => this.model.apply(batch, this.now()));
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
      topology: event.topology,
      nodes: event.nodes,
    });
    this.connectButton.textContent = event.state === "disconnected" ? "Connect" : "Disconnect";
    this.messages.setOnline(event.state === "connected");
    if (event.delivery && event.delivery !== this.mode) {
      this.mode = event.delivery;
      this.model.setHistoryOff(this.mode === "liveOnly");
      this.messages.refreshEdge();
    }
    // Started while the server was away, or the first load failed: load it now.
    if (event.state === "connected" && !this.history.recentLoaded && this.model.me !== null) void this.history.loadRecent();
  }

  /** Keeps each conversation that grew within what the window holds (model.KEEP), once the view has caught up with it. */
  private trimAfter(changes: Change[]): void {
    queueMicrotask(() => {
      for (const change of changes) {
        if (!("appended" in change)) continue;
        const id = change.conversation;
        const n = this.model.trim(id, this.messages.trimmable(id));
        if (n > 0) this.messages.trimmed(id, n);
      }
    });
  }

  private active(): Conversation | null {
    return this.model.active ? (this.model.conversations.get(this.model.active) ?? null) : null;
  }

  /** Shows conversation `id` (null: none). */
  private select(id: string | null): void {
    if (id !== null) this.model.conversation(id);
    this.model.select(id);
    this.renderAll();
    this.composer.focus();
    this.onShown();
  }

  /** A conversation was just shown: read it, and fetch what it is missing. */
  private onShown(): void {
    const c = this.active();
    if (!c) return;
    this.readActive();
    if (c.kind === "room" && c.members === null) void this.loadMembers(c.id);
    // Nothing to look at yet (a room just joined, a new direct conversation): its newest history.
    const empty = !c.entries.some((e) => e.kind === "message");
    if (empty && c.older.state === "idle") void this.history.loadOlder(c.id);
  }

  private async loadMembers(id: string): Promise<void> {
    try {
      const list = await this.backend.members(id);
      this.applyChanges(this.model.setMembers(id, list));
    } catch {
      // The next members event fills it in.
    }
  }

  /** Marks the open conversation read, if the window has focus. */
  private readActive(): void {
    const id = this.model.active;
    if (id !== null && this.hasFocus()) this.readMarker.mark(id);
  }

  /** Opens the direct conversation with `user`. */
  private openDirect(user: string): void {
    const target = readTarget(user);
    if (target.kind === "direct") this.select(target.conversation);
  }

  /** The "new conversation" box: a problem to show, or null once it is open. */
  private async openTarget(text: string): Promise<string | null> {
    const target = readTarget(text);
    switch (target.kind) {
      case "error":
        return target.error;
      case "direct":
        this.select(target.conversation);
        return null;
      case "join":
        return this.joinRoom(target.name);
    }
  }

  /** Joins (or creates) room / channel `name` and opens it: a problem, or null. */
  private async joinRoom(name: string): Promise<string | null> {
    try {
      const id = await this.backend.join(name);
      this.model.setJoined(id, true);
      this.select(id);
      return null;
    } catch (raw) {
      return ipc.toIpcError(raw).message;
    }
  }

  /** Leaves room / channel `id` (the open one moves on to the next conversation): a problem, or null. */
  private async leaveRoom(id: string): Promise<string | null> {
    try {
      await this.backend.leave(id);
    } catch (raw) {
      return ipc.toIpcError(raw).message;
    }
    this.model.setJoined(id, false);
    if (this.model.active === id) {
      this.model.select(null);
      this.select(this.model.visible()[0]?.id ?? null);
    } else {
      this.renderSidebar();
    }
    return null;
  }

  async send(line: string): Promise<boolean> {
    const read = readLine(line, this.model.active);
    if (read.kind === "error") {
      this.composer.showError(read.error);
      return false;
    }
    if (read.kind === "command") return this.command(read.command, read.arg);
    if (read.opens !== null && read.opens !== this.model.active) this.select(read.opens);
    // Sending from older messages around a search hit: back to the newest first.
    const target = this.model.conversations.get(read.conversation ?? this.model.active ?? "");
    if (target?.detached) await this.history.toLatest(target.id);
    try {
      const message = await this.backend.send(read.conversation, read.text);
      this.applyChanges(this.model.accepted(message, this.now()));
      if (message.conversation !== this.model.active) this.select(message.conversation);
      return true;
    } catch (raw) {
      // Not even queued (invalid, too large, outbox unwritable…): the typed text stays.
      this.composer.showError(ipc.toIpcError(raw).message);
      return false;
    }
  }

  /** `/join #room`, `/leave [#room]`, `/who`. */
  private async command(command: Command, arg: string): Promise<boolean> {
    let problem: string | null = null;
    switch (command) {
      case "join":
        problem = await this.joinRoom(arg);
        break;
      case "leave": {
        const id = arg ? this.model.idFor(arg) : this.model.active;
        if (id === null || this.model.conversations.get(id)?.kind === "direct") problem = "/leave leaves a room: open one or name it, e.g. /leave #team";
        else problem = await this.leaveRoom(id);
        break;
      }
      case "who":
        try {
          this.applyChanges(this.model.setWho(await this.backend.who()));
          this.renderSidebar();
          this.who.focus();
        } catch (raw) {
          problem = ipc.toIpcError(raw).message;
        }
        break;
    }
    this.composer.showError(problem);
    return problem === null;
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
    // The connect answer does not name the deployment: keep what the last status said.
    const known = view.topology === undefined && view.phase !== "idle" && view.phase !== "disconnected" ? this.status.topology : {};
    this.status.set({ ...known, ...view });
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
    const active = this.model.active;
    this.trimAfter(changes);
    let sidebar = false;
    let typing = false;
    let members = false;
    let header = false;
    let read = false;
    for (const change of changes) {
      if ("appended" in change) {
        if (change.conversation === active) {
          // A message may make it a conversation (or a request): the header's request bar follows.
          header = true;
          this.messages.append(change.conversation, change.appended);
          if (change.appended.some((e) => !e.mine && (e.kind === "message" || e.kind === "plain"))) read = true;
        }
        sidebar = true;
      } else if ("prepended" in change) {
        this.messages.prepend(change.conversation, change.prepended);
        sidebar = true;
      } else if ("reordered" in change) {
        this.messages.reload(change.conversation);
        sidebar = true;
      } else if ("updated" in change) {
        this.messages.update(change.conversation, change.updated);
      } else if ("typing" in change) {
        if (change.conversation === active) typing = true;
      } else if ("members" in change) {
        if (change.conversation === active) members = true;
      } else if ("joined" in change) {
        sidebar = header = true;
      } else if ("presence" in change) {
        sidebar = members = true;
      } else if ("keyChanged" in change) {
        this.people.keyChanged(change.keyChanged);
      } else {
        // unread, who, requests
        sidebar = true;
      }
    }
    this.status.setQueued(this.queuedCount());
    if (active === null) {
      const first = this.model.visible()[0];
      if (first) {
        this.select(first.id);
        return;
      }
    }
    const c = this.active();
    if (typing) this.renderTyping();
    if (members) this.members.render(c, this.model.me, (user) => this.model.presence.get(user));
    if (header) {
      this.showHeader();
      this.composer.setPlaceholder(placeholder(c));
    }
    if (read) this.readActive();
    if (sidebar) this.scheduleSidebar();
  }

  /** The sidebar (and who list, window title) re-render at most once per frame, however many batches arrive. */
  private scheduleSidebar(): void {
    if (this.sidebarPending) return;
    this.sidebarPending = true;
    requestAnimationFrame(() => {
      this.sidebarPending = false;
      this.renderSidebar();
    });
  }

  /** Unread counts as shown: none for the conversation being read (open, window focused). */
  private shownUnread(c: Conversation): { count: number; mentions: number } {
    if (c.id === this.model.active && this.hasFocus()) return { count: 0, mentions: 0 };
    return { count: c.unread, mentions: c.mentions };
  }

  private renderSidebar(): void {
    let total = 0;
    const items: SidebarItem[] = this.model.visible().map((c) => {
      const { count, mentions } = this.shownUnread(c);
      const muted = this.desk.notifier.isMuted(c.id);
      if (!muted) total += count;
      return {
        id: c.id,
        kind: c.kind,
        title: c.title,
        peer: c.peer,
        unread: count,
        mentions,
        presence: c.peer !== null ? this.model.presence.get(c.peer) : undefined,
        muted,
      };
    });
    this.sidebar.render(items, this.model.active);
    this.people.render(this.model.active);
    this.who.render(
      this.model.who.map((m) => this.model.presence.get(normaliseName(m.user)) ?? m),
      this.model.me,
    );
    const title = total > 0 ? `(${total}) Redchat` : "Redchat";
    if (document.title !== title) {
      document.title = title;
      // The native title, badge and tray follow (the webview does not do it by itself).
      this.backend.setUnread(total).catch(() => undefined);
    }
  }

  /** The typing line of the open conversation, redrawn again when the next signal expires. */
  private renderTyping(): void {
    const now = this.now();
    const id = this.model.active;
    this.typing.set(this.model.typingUsers(id, now));
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    const next = this.model.nextTypingExpiry(id);
    if (next !== null) this.typingTimer = setTimeout(() => this.renderTyping(), Math.max(16, next - now));
  }

  private showHeader(): void {
    const c = this.active();
    this.header.show(c, c !== null && this.desk.notifier.isMuted(c.id));
  }

  /** Esc: Settings (the dialog on top; once connected, when it can be left), else the contact panel, closes; false when nothing did. */
  private closePanel(): boolean {
    if (this.settings.visible) {
      if (this.model.me === null) return false;
      this.settings.hide();
      return true;
    }
    if (this.people.contact.isOpen) {
      this.people.contact.close();
      return true;
    }
    return false;
  }

  private renderAll(): void {
    const active = this.active();
    this.messages.show(active);
    this.showHeader();
    this.people.follow(active);
    this.members.render(active, this.model.me, (user) => this.model.presence.get(user));
    this.renderSidebar();
    this.renderTyping();
    this.composer.setPlaceholder(placeholder(active));
  }

  dispose(): void {
    this.abort.abort();
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    for (const part of [this.desk, this.search, this.status, this.banner, this.warnings, this.people, this.sidebar, this.opener, this.who, this.header, this.members, this.messages, this.typing, this.composer, this.settings]) {
      part.dispose();
    }
    this.el.remove();
  }
}
