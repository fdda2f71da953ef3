// The member list of the open room: everyone in it with an online dot (green when online,
// grey with "last seen …" otherwise), online members first. A room's members set can hold
// entries that are not usernames: they are counted, not shown.
//
// Selectors (WebDriver tests): #member-panel (hidden unless a room is open), #members (the
// list), li[data-user] (one per member), .presence-dot.online|.offline[data-user],
// #members-unreadable ("N unreadable entries", hidden at 0), #members-more ("and N more"
// beyond MAX_MEMBERS: anyone can add entries to a room's members set).

import { normaliseName } from "../compose";
import { h, replaceChildren, type Disposable } from "../dom";
import type { Member } from "../ipc";
import type { Conversation } from "../model";
import { visibleName } from "../trust";
import { presenceDot } from "./presence";

/** Members listed at most. */
export const MAX_MEMBERS = 500;

/** "N unreadable entries". */
export function unreadableText(n: number): string {
  return n === 1 ? "1 unreadable entry" : `${n} unreadable entries`;
}

export class MemberPanel implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly unreadable: HTMLElement;
  private readonly more: HTMLElement;
  private readonly abort = new AbortController();

  constructor() {
    this.heading = h("h2", {}, "Members");
    this.list = h("ul", { class: "members", id: "members", "aria-label": "Members" });
    this.unreadable = h("p", { class: "hint", id: "members-unreadable", hidden: true });
    this.more = h("p", { class: "hint", id: "members-more", hidden: true });
    this.el = h("aside", { class: "member-panel", id: "member-panel", "aria-label": "Room members", hidden: true }, this.heading, this.list, this.more, this.unreadable);
  }

  /**
   * Shows the members of `c` (hidden unless it is a room); `presence` is the latest known
   * online state of a user (fresher than the list when a presence event came after it).
   */
  render(c: Conversation | null, me: string | null, presence: (user: string) => Member | undefined): void {
    if (!c || c.kind !== "room") {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    let left = 0;
    if (c.members === null) {
      this.heading.textContent = "Members";
      replaceChildren(this.list, h("li", { class: "loading" }, "Loading members…"));
    } else {
      const members = c.members
        .map((m) => presence(normaliseName(m.user)) ?? m)
        .sort((a, b) => Number(b.online) - Number(a.online) || a.user.localeCompare(b.user));
      this.heading.textContent = `Members (${members.length})`;
      left = Math.max(0, members.length - MAX_MEMBERS);
      replaceChildren(
        this.list,
        ...members.slice(0, MAX_MEMBERS).map((m) =>
          h(
            "li",
            { "data-user": m.user, class: m.online ? "online" : "offline" },
            presenceDot(m.user, m),
            h("span", { class: "name", dir: "auto" }, normaliseName(m.user) === me ? `${m.user} (you)` : visibleName(m.user)),
          ),
        ),
      );
    }
    this.more.hidden = left === 0;
    this.more.textContent = left > 0 ? `and ${left} more` : "";
    this.unreadable.hidden = c.unreadableMembers <= 0;
    this.unreadable.textContent = c.unreadableMembers > 0 ? unreadableText(c.unreadableMembers) : "";
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
