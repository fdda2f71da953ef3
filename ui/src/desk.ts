// The window's desktop habits, apart from chat itself: notifications (notify.ts decides,
// the shell shows), the do-not-disturb toggle in the top bar (mirrored by the tray menu), the
// quick switcher and the keyboard shortcuts (keys.ts), links opened in the system browser.
//
// Selectors (WebDriver tests): #dnd (the do-not-disturb toggle, aria-pressed); the switcher's
// (switcher.ts).

import { normaliseName } from "./compose";
import { h, type Disposable } from "./dom";
import type * as ipc from "./ipc";
import type { ChatModel, Conversation } from "./model";
import { neighbour, shortcutOf } from "./keys";
import { Notifier, type Alert } from "./notify";
import { QuickSwitcher, type SwitcherItem } from "./components/switcher";
import type { SearchPanel } from "./components/search";

/** The quick switcher's list: conversations in sidebar order, then people online without one; `unread` as shown. */
export function switcherItems(model: ChatModel, unread: (c: Conversation) => number): SwitcherItem[] {
  const items: SwitcherItem[] = model.visible().map((c) => {
    const count = unread(c);
    const what = c.kind === "direct" ? "direct message" : c.kind;
    return { id: c.id, label: c.kind === "direct" ? c.title : c.id, hint: count > 0 ? `${what} · ${count} unread` : what };
  });
  const have = new Set(items.map((i) => i.id));
  for (const m of model.who) {
    const id = `@${normaliseName(m.user)}`;
    if (!have.has(id) && normaliseName(m.user) !== model.me) items.push({ id, label: m.user, hint: m.online ? "online" : "person" });
  }
  return items;
}

export interface DeskDeps {
  backend: Pick<typeof ipc, "notify" | "setDoNotDisturb" | "watchShell" | "openLink">;
  hasFocus(): boolean;
  /** What the quick switcher offers. */
  items(): SwitcherItem[];
  /** Conversation ids in sidebar order, and the open one (Alt+↑/↓). */
  order(): string[];
  active(): string | null;
  select(id: string): void;
  /** Esc: closes the topmost panel; false when none was open. */
  closePanel(): boolean;
  /** A modal dialog (Settings) is open: conversations stay as they are behind it. */
  modal(): boolean;
  /** A link could not be opened, or a notification was refused: tell the user. */
  problem(text: string): void;
  /** Search and export (Ctrl+Shift+F, Ctrl+F). */
  search: SearchPanel;
}

export class Desk implements Disposable {
  readonly notifier: Notifier;
  readonly switcher: QuickSwitcher;
  readonly dndButton: HTMLButtonElement;
  private readonly abort = new AbortController();

  constructor(private readonly deps: DeskDeps) {
    this.notifier = new Notifier({
      hasFocus: () => deps.hasFocus(),
      show: (alert) => this.show(alert),
    });
    this.switcher = new QuickSwitcher(
      () => deps.items(),
      (id) => deps.select(id),
    );
    this.dndButton = h("button", { type: "button", id: "dnd", class: "dnd", "aria-pressed": "false", title: "Do not disturb: no notifications" }, "Do not disturb");
    const signal = this.abort.signal;
    this.dndButton.addEventListener("click", () => void this.setDoNotDisturb(!this.notifier.doNotDisturb), { signal });
    window.addEventListener("keydown", (e) => this.onKey(e), { signal });
  }

  /** Listens to the shell (the tray toggles do-not-disturb; a clicked notification opens its conversation); without a shell, the toggle still works here. */
  start(): void {
    this.deps.backend
      .watchShell((event) => {
        if (event.kind === "doNotDisturb") this.showDoNotDisturb(event.on);
        else this.deps.select(event.conversation);
      })
      .catch(() => undefined);
  }

  async setDoNotDisturb(on: boolean): Promise<void> {
    this.showDoNotDisturb(on);
    try {
      await this.deps.backend.setDoNotDisturb(on);
    } catch {
      // The page's own filter still holds.
    }
  }

  private showDoNotDisturb(on: boolean): void {
    this.notifier.doNotDisturb = on;
    this.dndButton.setAttribute("aria-pressed", String(on));
    this.dndButton.classList.toggle("on", on);
    this.dndButton.textContent = on ? "Do not disturb: on" : "Do not disturb";
  }

  openLink(url: string): void {
    this.deps.backend.openLink(url).catch((raw: unknown) => {
      const message = raw && typeof raw === "object" && "message" in raw ? String((raw as { message: unknown }).message) : String(raw);
      this.deps.problem(`Couldn't open ${url}: ${message}`);
    });
  }

  private show(alert: Alert): void {
    this.deps.backend.notify(alert.title, alert.body, alert.conversation).catch(() => undefined);
  }

  private onKey(e: KeyboardEvent): void {
    const shortcut = shortcutOf(e);
    // Behind a dialog, and in a drop-down (Alt+↓ opens its list), only Esc is ours.
    const target = e.target instanceof Element ? e.target : null;
    if (shortcut !== "close" && shortcut !== null && (this.deps.modal() || target?.closest("select"))) return;
    switch (shortcut) {
      case "switcher":
        e.preventDefault();
        if (this.switcher.isOpen) this.switcher.close();
        else {
          this.deps.search.close();
          this.switcher.show();
        }
        break;
      case "searchAll":
      case "searchHere":
        e.preventDefault();
        this.switcher.close();
        this.deps.search.show(shortcut === "searchHere" ? this.deps.active() : null);
        break;
      case "previous":
      case "next": {
        e.preventDefault();
        const id = neighbour(this.deps.order(), this.deps.active(), shortcut === "next" ? 1 : -1);
        if (id !== null && id !== this.deps.active()) this.deps.select(id);
        break;
      }
      case "close":
        if (this.switcher.isOpen) {
          this.switcher.close();
          e.preventDefault();
        } else if (this.deps.search.isOpen) {
          this.deps.search.close();
          e.preventDefault();
        } else if (this.deps.closePanel()) {
          e.preventDefault();
        }
        break;
      case null:
        break;
    }
  }

  dispose(): void {
    this.abort.abort();
    this.switcher.dispose();
    this.dndButton.remove();
  }
}
