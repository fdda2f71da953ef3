// The Requests section of the sidebar: direct conversations from people who are not contacts
// yet, each with Accept and Block. Bounded whatever arrives: at most `limit` rows (SHOWN_REQUESTS,
// "Show more" adds as many again), then "and N more"; what the model did not keep and what the
// core dropped from blocked senders are counted in the footer. Rows are keyed by conversation
// and updated in place, so a button being clicked is never swapped out from under the pointer.
//
// Selectors (WebDriver tests):
//   #requests-section               the section (hidden when there is nothing to show)
//   #requests-count                 count badge (requests held plus those not kept)
//   #requests                       the list; li[data-conversation="@x"] rows (.title, .preview,
//                                   .suspicious, .lookalike, .unread-badge)
//   button[data-accept="@x"], button[data-block="@x"]   (classes .accept, .block)
//   #requests-more                  "and N more" (+ button #requests-show-more)
//   #requests-dropped               requests / messages not kept (too many at once)
//   #blocked-dropped                "N messages from blocked senders dropped"
//   #requests-error                 why accepting or blocking failed

import { h, type Disposable } from "../dom";
import type { ConversationId } from "../ipc";
import { blockedText, plural, SHOWN_REQUESTS } from "../requests";

export interface RequestItem {
  id: ConversationId;
  title: string;
  unread: number;
  /** The newest message's text, shortened. */
  preview: string;
  /** Why the sender's name is not honest. */
  senderIssue: string | null;
  /** The contact this sender's name looks like. */
  lookalike: string | null;
}

export interface RequestSummary {
  /** Request conversations held (rows come from the first ones). */
  held: number;
  /** The footer line about what was not kept ("" when nothing). */
  dropped: string;
  /** Request conversations not kept. */
  droppedConversations: number;
  /** Messages of blocked senders dropped. */
  blocked: number;
}

export interface RequestActions {
  open(id: ConversationId): void;
  accept(id: ConversationId): void;
  block(id: ConversationId): void;
}

interface Row {
  li: HTMLElement;
  title: HTMLElement;
  flag: HTMLElement;
  preview: HTMLElement;
  unread: HTMLElement;
  accept: HTMLButtonElement;
  block: HTMLButtonElement;
}

/** Characters of a preview. */
const PREVIEW = 80;

export class RequestsSection implements Disposable {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly count: HTMLElement;
  private readonly more: HTMLElement;
  private readonly moreText: HTMLElement;
  private readonly showMore: HTMLButtonElement;
  private readonly dropped: HTMLElement;
  private readonly blocked: HTMLElement;
  private readonly error: HTMLElement;
  private readonly abort = new AbortController();
  private readonly rows = new Map<ConversationId, Row>();
  /** Accept or Block in flight. */
  private readonly pending = new Set<ConversationId>();
  /** Rows shown at most. */
  limit = SHOWN_REQUESTS;
  private onShowMore: () => void = () => undefined;

  constructor(actions: RequestActions) {
    this.count = h("span", { class: "count-badge", id: "requests-count", hidden: true });
    this.list = h("ul", { class: "conversations requests", id: "requests", "aria-label": "Message requests" });
    this.moreText = h("span", {});
    this.showMore = h("button", { type: "button", class: "link", id: "requests-show-more" }, "Show more");
    this.more = h("p", { class: "hint", id: "requests-more", hidden: true }, this.moreText, " ", this.showMore);
    this.dropped = h("p", { class: "hint warn", id: "requests-dropped", hidden: true });
    this.blocked = h("p", { class: "hint", id: "blocked-dropped", hidden: true });
    this.error = h("p", { class: "error", id: "requests-error", role: "alert" });
    this.el = h(
      "section",
      { class: "requests-section", id: "requests-section", hidden: true },
      h("h2", {}, "Requests ", this.count),
      h("p", { class: "hint" }, "People who are not in your contacts. Accept (or reply) to move them to Direct messages, or block them."),
      this.list,
      this.more,
      this.dropped,
      this.blocked,
      this.error,
    );
    this.el.addEventListener(
      "click",
      (e) => {
        const target = e.target as Element;
        const accept = target.closest?.<HTMLButtonElement>("button[data-accept]");
        const block = target.closest?.<HTMLButtonElement>("button[data-block]");
        const id = accept?.dataset.accept ?? block?.dataset.block;
        if (id !== undefined) {
          if (this.pending.has(id)) return;
          this.pending.add(id);
          this.setBusy(id, true);
          this.showError(null);
          if (accept) actions.accept(id);
          else actions.block(id);
          return;
        }
        if (target.closest?.("#requests-show-more")) {
          this.limit += SHOWN_REQUESTS;
          this.onShowMore();
          return;
        }
        const item = target.closest?.<HTMLElement>("li[data-conversation]");
        if (item?.dataset.conversation) actions.open(item.dataset.conversation);
      },
      { signal: this.abort.signal },
    );
  }

  /** Re-render when "Show more" is clicked. */
  set rerender(fn: () => void) {
    this.onShowMore = fn;
  }

  /** Accept or Block of `id` finished (its row, if still there, can be used again). */
  done(id: ConversationId): void {
    this.pending.delete(id);
    this.setBusy(id, false);
  }

  showError(message: string | null): void {
    this.error.textContent = message ?? "";
  }

  /** Shows `items` (all requests held, most recent first: only the first `limit` get rows). */
  render(items: RequestItem[], summary: RequestSummary, active: ConversationId | null): void {
    const shown = items.slice(0, this.limit);
    // The open request keeps its row even beyond the limit.
    const open = active !== null && !shown.some((i) => i.id === active) ? items.find((i) => i.id === active) : undefined;
    if (open) shown.push(open);
    const seen = new Set<ConversationId>();
    const lis: HTMLElement[] = [];
    for (const item of shown) {
      seen.add(item.id);
      const row = this.row(item.id);
      this.update(row, item, item.id === active);
      lis.push(row.li);
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    const same = lis.length === this.list.children.length && lis.every((li, i) => this.list.children[i] === li);
    if (!same) this.list.replaceChildren(...lis);

    const total = summary.held + summary.droppedConversations;
    setText(this.count, total > 0 ? String(total) : "");
    this.count.hidden = total === 0;
    this.count.setAttribute("aria-label", plural(total, "request"));
    const notShown = total - shown.length;
    this.more.hidden = notShown <= 0;
    setText(this.moreText, notShown > 0 ? `and ${plural(notShown, "more", "more")}` : "");
    this.showMore.hidden = shown.length >= summary.held;
    setText(this.dropped, summary.dropped);
    this.dropped.hidden = summary.dropped === "";
    const blocked = blockedText(summary.blocked);
    setText(this.blocked, blocked);
    this.blocked.hidden = blocked === "";
    this.el.hidden = total === 0 && blocked === "" && summary.dropped === "";
  }

  private row(id: ConversationId): Row {
    let row = this.rows.get(id);
    if (!row) {
      const title = h("span", { class: "title", dir: "auto" });
      const flag = h("span", { class: "request-flag", hidden: true });
      const unread = h("span", { class: "unread unread-badge", hidden: true });
      const preview = h("span", { class: "preview", dir: "auto" });
      const accept = h("button", { type: "button", class: "accept", "data-accept": id }, "Accept");
      const block = h("button", { type: "button", class: "block", "data-block": id }, "Block");
      const li = h(
        "li",
        { "data-conversation": id, "data-kind": "direct", "data-request": "" },
        h("div", { class: "request-head" }, title, unread),
        flag,
        preview,
        h("div", { class: "request-actions" }, accept, block),
      );
      row = { li, title, flag, preview, unread, accept, block };
      this.rows.set(id, row);
      if (this.pending.has(id)) this.setBusy(id, true);
    }
    return row;
  }

  private update(row: Row, item: RequestItem, active: boolean): void {
    const className = active ? "request active" : "request";
    if (row.li.className !== className) row.li.className = className;
    if (active) row.li.setAttribute("aria-current", "true");
    else row.li.removeAttribute("aria-current");
    setText(row.title, item.senderIssue ? `⚠ ${item.title}` : item.title);
    row.title.classList.toggle("suspicious", item.senderIssue !== null);
    const flag = item.senderIssue ? `Not an honest name: ${item.senderIssue}` : item.lookalike ? `⚠ looks like ${item.lookalike}` : "";
    setText(row.flag, flag);
    row.flag.hidden = flag === "";
    row.flag.className = item.senderIssue ? "request-flag suspicious" : item.lookalike ? "request-flag lookalike" : "request-flag";
    const chars = [...item.preview.slice(0, PREVIEW * 2)];
    const preview = chars.length > PREVIEW || item.preview.length > PREVIEW * 2 ? `${chars.slice(0, PREVIEW).join("")}…` : item.preview;
    setText(row.preview, preview);
    row.unread.hidden = item.unread <= 0;
    setText(row.unread, item.unread > 0 ? String(item.unread) : "");
    row.accept.setAttribute("aria-label", `Accept ${item.title}`);
    row.block.setAttribute("aria-label", `Block ${item.title}`);
  }

  private setBusy(id: ConversationId, busy: boolean): void {
    const row = this.rows.get(id);
    if (!row) return;
    row.accept.disabled = busy;
    row.block.disabled = busy;
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
