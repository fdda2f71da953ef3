// "Who's online": everyone online and recently seen (from `who` events), with their dots.
// Clicking someone opens the direct conversation with them. You are not listed.
//
// Selectors (WebDriver tests): #who (the list), li[data-user] (one per user, holding a
// button), .presence-dot.online|.offline[data-user], #presence-hidden (shown when you do not
// share your presence), #who-more ("and N more" beyond MAX_WHO).

import { normaliseName } from "../compose";
import { h, replaceChildren, type Disposable } from "../dom";
import type { Member } from "../ipc";
import { presenceDot } from "./presence";

/** Users listed at most (anyone can announce presence: the list must stay bounded). */
export const MAX_WHO = 200;

export class WhoList implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly hiddenNote: HTMLElement;
  private readonly more: HTMLElement;
  private readonly abort = new AbortController();
  /** What was rendered last, to skip identical refreshes. */
  private shown = "";

  constructor(onOpen: (user: string) => void) {
    this.list = h("ul", { class: "who", id: "who", "aria-label": "Who's online", tabindex: "-1" });
    this.empty = h("p", { class: "empty" }, "Nobody else is online.");
    this.hiddenNote = h("p", { class: "hint", id: "presence-hidden", hidden: true }, "You appear offline to others (Settings: Share when I am online).");
    this.more = h("p", { class: "hint", id: "who-more", hidden: true });
    this.el = h("section", { class: "who-section", id: "who-section" }, h("h2", {}, "Who's online"), this.list, this.more, this.empty, this.hiddenNote);
    this.list.addEventListener(
      "click",
      (e) => {
        const item = (e.target as Element).closest<HTMLElement>("li[data-user]");
        if (item?.dataset.user) onOpen(item.dataset.user);
      },
      { signal: this.abort.signal },
    );
  }

  /** Shows `users` except `me`: online ones first, then by name. */
  render(users: Member[], me: string | null): void {
    const others = users
      .filter((m) => normaliseName(m.user) !== me)
      .sort((a, b) => Number(b.online) - Number(a.online) || a.user.localeCompare(b.user));
    const listed = others.slice(0, MAX_WHO);
    const key = `${others.length}:${JSON.stringify(listed)}`;
    if (key === this.shown) return;
    this.shown = key;
    this.more.hidden = others.length <= MAX_WHO;
    this.more.textContent = others.length > MAX_WHO ? `and ${others.length - MAX_WHO} more` : "";
    replaceChildren(
      this.list,
      ...listed.map((m) =>
        h(
          "li",
          { "data-user": m.user, class: m.online ? "online" : "offline" },
          h("button", { type: "button", class: "who-user", "aria-label": `Message ${m.user}` }, presenceDot(m.user, m), h("span", { class: "name" }, m.user)),
        ),
      ),
    );
    this.empty.hidden = others.length > 0;
  }

  /** Whether this session shares the user's presence (a note says when not). */
  setSharing(sharing: boolean): void {
    this.hiddenNote.hidden = sharing;
  }

  /** Brings the list into view with the keyboard on it (`/who`). */
  focus(): void {
    this.el.scrollIntoView?.({ block: "nearest" });
    (this.list.querySelector<HTMLElement>("button") ?? this.list).focus();
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
