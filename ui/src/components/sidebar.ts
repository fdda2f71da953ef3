// The conversation list, in two sections: "Rooms" (rooms and raw channels) and "Direct
// messages" (with the peer's online dot). Each row has an unread badge and a separate mention
// badge. Rows are keyed by conversation id and updated in place, so a row being clicked is
// never swapped out from under the pointer.
//
// Selectors (WebDriver tests):
//   #conversations                      both sections
//   #rooms, #directs                    the section lists
//   li[data-conversation="<id>"]        a row (`@bob`, `#team`, `~messages`); also data-key,
//                                       the old key (`bob` for a direct conversation, else the id)
//   li.active                           the open one (aria-current)
//   li.muted                            muted (no notifications, not in the title's total)
//   .title                              its name (`bob`, `#team`, `messages`)
//   .unread-badge (also .unread)        unread count, hidden at 0
//   .mention-badge                      mentions of you, hidden at 0
//   .presence-dot.online|.offline[data-user]  direct messages only
//   #rooms-more, #directs-more          "and N more" beyond MAX_ROWS per section
//
// Message requests have their own section (requests.ts).

import { h, type Disposable } from "../dom";
import type { ConversationId, Member } from "../ipc";
import type { ConversationKind } from "../model";
import { presenceDot, setPresence } from "./presence";

/** Rows per section at most (the open conversation always has one); older ones are counted. */
export const MAX_ROWS = 300;

/** A row as the sidebar shows it. */
export interface SidebarItem {
  id: ConversationId;
  kind: ConversationKind;
  title: string;
  peer: string | null;
  unread: number;
  mentions: number;
  /** The peer's online state (direct conversations). */
  presence: Member | undefined;
  /** Muted: no notifications, its count left out of the window's total. */
  muted?: boolean;
}

interface Row {
  li: HTMLElement;
  title: HTMLElement;
  unread: HTMLElement;
  mention: HTMLElement;
  dot: HTMLElement | null;
}

export class Sidebar implements Disposable {
  readonly el: HTMLElement;
  private readonly rooms: HTMLElement;
  private readonly directs: HTMLElement;
  private readonly roomsEmpty: HTMLElement;
  private readonly directsEmpty: HTMLElement;
  private readonly roomsMore: HTMLElement;
  private readonly directsMore: HTMLElement;
  private readonly abort = new AbortController();
  private readonly rows = new Map<ConversationId, Row>();

  constructor(onSelect: (id: ConversationId) => void) {
    this.rooms = h("ul", { class: "conversations", id: "rooms", "aria-label": "Rooms" });
    this.directs = h("ul", { class: "conversations", id: "directs", "aria-label": "Direct messages" });
    this.roomsEmpty = h("p", { class: "empty" }, "No rooms yet. Type #name above to join one.");
    this.directsEmpty = h("p", { class: "empty" }, "No conversations yet. Type @name and a message below.");
    this.roomsMore = h("p", { class: "hint", id: "rooms-more", hidden: true });
    this.directsMore = h("p", { class: "hint", id: "directs-more", hidden: true });
    this.el = h(
      "div",
      { class: "sections", id: "conversations" },
      h("h2", {}, "Rooms"),
      this.rooms,
      this.roomsMore,
      this.roomsEmpty,
      h("h2", {}, "Direct messages"),
      this.directs,
      this.directsMore,
      this.directsEmpty,
    );
    this.el.addEventListener(
      "click",
      (e) => {
        const item = (e.target as Element).closest<HTMLElement>("li[data-conversation]");
        if (item?.dataset.conversation) onSelect(item.dataset.conversation);
      },
      { signal: this.abort.signal },
    );
  }

  /** Shows `items` (most recent first) with `active` highlighted. */
  render(items: SidebarItem[], active: ConversationId | null): void {
    const rooms: HTMLElement[] = [];
    const directs: HTMLElement[] = [];
    const seen = new Set<ConversationId>();
    let roomsLeft = 0;
    let directsLeft = 0;
    for (const item of items) {
      const direct = item.kind === "direct";
      if ((direct ? directs : rooms).length >= MAX_ROWS && item.id !== active) {
        if (direct) directsLeft++;
        else roomsLeft++;
        continue;
      }
      seen.add(item.id);
      const row = this.row(item);
      this.update(row, item, item.id === active);
      (item.kind === "direct" ? directs : rooms).push(row.li);
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    sync(this.rooms, rooms);
    sync(this.directs, directs);
    this.roomsEmpty.hidden = rooms.length > 0;
    this.directsEmpty.hidden = directs.length > 0;
    more(this.roomsMore, roomsLeft);
    more(this.directsMore, directsLeft);
  }

  private row(item: SidebarItem): Row {
    let row = this.rows.get(item.id);
    if (!row) {
      const title = h("span", { class: "title" });
      const mention = h("span", { class: "mention-badge", hidden: true });
      const unread = h("span", { class: "unread unread-badge", hidden: true });
      const dot = item.kind === "direct" && item.peer !== null ? presenceDot(item.peer, item.presence) : null;
      const li = h("li", { "data-conversation": item.id, "data-key": item.peer ?? item.id, "data-kind": item.kind }, dot, title, mention, unread);
      row = { li, title, unread, mention, dot };
      this.rows.set(item.id, row);
    }
    return row;
  }

  private update(row: Row, item: SidebarItem, active: boolean): void {
    const className = [active ? "active" : "", item.muted ? "muted" : ""].filter(Boolean).join(" ");
    if (row.li.className !== className) row.li.className = className;
    if (active) row.li.setAttribute("aria-current", "true");
    else row.li.removeAttribute("aria-current");
    if (row.title.textContent !== item.title) row.title.textContent = item.title;
    if (row.title.title !== (item.muted ? "Muted" : "")) row.title.title = item.muted ? "Muted" : "";
    badge(row.unread, item.unread, `${item.unread} unread`, String(item.unread));
    badge(row.mention, item.mentions, item.mentions === 1 ? "1 mention" : `${item.mentions} mentions`, `@${item.mentions}`);
    if (row.dot) setPresence(row.dot, item.presence);
  }

  /** Conversation ids in the order shown: rooms, then direct messages (Alt+↑/↓ walk it). */
  order(): ConversationId[] {
    return [...this.el.querySelectorAll<HTMLElement>("li[data-conversation]")].map((li) => li.dataset.conversation ?? "").filter(Boolean);
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}

function more(el: HTMLElement, n: number): void {
  el.hidden = n <= 0;
  const text = n > 0 ? `and ${n} more — type a name above to open one` : "";
  if (el.textContent !== text) el.textContent = text;
}

function badge(el: HTMLElement, n: number, label: string, text: string): void {
  el.hidden = n <= 0;
  const shown = n > 0 ? text : "";
  if (el.textContent !== shown) el.textContent = shown;
  if (el.getAttribute("aria-label") !== label) el.setAttribute("aria-label", label);
}

/** Puts `lis` in `list`, touching the DOM only when the order changed. */
function sync(list: HTMLElement, lis: HTMLElement[]): void {
  const same = lis.length === list.children.length && lis.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...lis);
}
