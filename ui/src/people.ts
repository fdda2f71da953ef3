// People, as the window handles them: message requests (accept, block), the contact panel
// (safety numbers, verifying, trusting a new key, blocking and unblocking), and keeping both in
// step with the open conversation. The App owns one of these; the components do the drawing.

import { normaliseName } from "./compose";
import type { Disposable } from "./dom";
import * as ipc from "./ipc";
import type { ChatModel, Conversation, Entry } from "./model";
import { droppedText } from "./requests";
import { ContactPanel } from "./components/contact";
import { RequestsSection, type RequestItem } from "./components/requests";
import { visibleName } from "./trust";

export type PeopleBackend = Pick<typeof ipc, "setStanding" | "contact" | "markVerified" | "acceptNewKey" | "identityInfo" | "exportIdentity" | "importIdentity">;

export interface PeopleHost {
  readonly model: ChatModel;
  readonly backend: PeopleBackend;
  /** Shows conversation `id` (null: none). */
  select(id: string | null): void;
  /** Who is in which list changed: redraw the sidebar and the header. */
  changed(): void;
  /** Tell the user why something failed. */
  problem(text: string): void;
  /** Unread count as shown for `c`. */
  unread(c: Conversation): number;
  /** Accept or Block of the open request is in flight. */
  busy(busy: boolean): void;
  /**
   * Disconnects and connects again with the saved profile, as the Disconnect/Connect button
   * does (after an identity import, so that the session signs with the new key).
   */
  reconnect(): Promise<void>;
}

/** Characters of a message kept for a request's preview (the row shortens it further). */
const PREVIEW_SOURCE = 200;

export class People implements Disposable {
  readonly requests: RequestsSection;
  readonly contact: ContactPanel;

  constructor(private readonly host: PeopleHost) {
    this.requests = new RequestsSection({
      open: (id) => host.select(id),
      accept: (id) => void this.accept(id),
      block: (id) => void this.block(id),
    });
    this.requests.rerender = () => this.render(host.model.active);
    this.contact = new ContactPanel({
      contact: (user) => host.backend.contact(user),
      markVerified: (user, verified, key) => host.backend.markVerified(user, verified, key),
      acceptNewKey: (user, key) => host.backend.acceptNewKey(user, key),
      identityInfo: () => host.backend.identityInfo(),
      exportIdentity: () => host.backend.exportIdentity(),
      importIdentity: (text) => host.backend.importIdentity(text),
      reconnect: () => host.reconnect(),
      setStanding: (user, standing) => this.setStanding(`@${normaliseName(user)}`, user, standing),
      closed: () => undefined,
    });
  }

  /** Accepts message request `id`: a contact, listed under Direct messages. */
  async accept(id: string): Promise<void> {
    const problem = await this.setStanding(id, peerOf(this.host.model, id), "contact");
    if (problem !== null) this.requests.showError(problem);
  }

  /** Blocks the person of `id`: their conversation and messages go, later ones are dropped. */
  async block(id: string): Promise<void> {
    const problem = await this.setStanding(id, peerOf(this.host.model, id), "blocked");
    if (problem !== null) this.requests.showError(problem);
  }

  /** Sets `user`'s standing (conversation `id`) and updates the lists: a problem, or null. */
  private async setStanding(id: string, user: string, standing: ipc.Standing): Promise<string | null> {
    const { model, backend } = this.host;
    const open = model.active === id;
    if (open) this.host.busy(true);
    try {
      await backend.setStanding(user, standing);
    } catch (raw) {
      const verb = standing === "blocked" ? "block" : standing === "contact" ? "accept" : "update";
      const problem = `Couldn't ${verb} ${visibleName(user)}: ${ipc.toIpcError(raw).message}`;
      this.host.problem(problem);
      return problem;
    } finally {
      this.requests.done(id);
      if (open) this.host.busy(false);
    }
    if (standing === "blocked") {
      model.block(id);
      if (model.active === null && open) this.host.select(model.visible()[0]?.id ?? null);
      else this.host.changed();
    } else {
      model.accept(id);
      this.host.changed();
    }
    this.contact.refresh();
    return null;
  }

  /** The header's contact button: opens (or closes) the panel for direct conversation `id`. */
  toggleContact(id: string): void {
    const c = this.host.model.conversations.get(id);
    if (!c?.peer) return;
    if (this.contact.user === c.peer) this.contact.close();
    else this.contact.open(c.peer);
  }

  /** Conversation `c` is open now: the panel follows it (or closes when it is not direct). */
  follow(c: Conversation | null): void {
    if (!this.contact.isOpen) return;
    if (c?.kind === "direct" && c.peer !== null) {
      if (this.contact.user !== c.peer) this.contact.open(c.peer);
    } else {
      this.contact.close();
    }
  }

  /** `user`'s key changed: a panel showing them loads again. */
  keyChanged(user: string): void {
    if (this.contact.user !== null && normaliseName(this.contact.user) === user) this.contact.refresh();
  }

  /** Draws the Requests section (at most its limit of rows, plus the open one). */
  render(active: string | null): void {
    const { model } = this.host;
    const all = model.requestList();
    const shown = all.slice(0, this.requests.limit);
    const open = active !== null && !shown.some((c) => c.id === active) ? all.find((c) => c.id === active) : undefined;
    if (open) shown.push(open);
    const items = shown.map((c) => this.item(c));
    const { ledger } = model;
    this.requests.render(
      items,
      { held: all.length, dropped: droppedText(ledger), droppedConversations: ledger.droppedConversations, blocked: ledger.blockedMessages },
      active,
    );
  }

  private item(c: Conversation): RequestItem {
    let last: Entry | undefined;
    let senderIssue: string | null = null;
    let lookalike: string | null = null;
    for (const e of c.entries) {
      if (e.kind !== "message") continue;
      last = e;
      senderIssue ??= e.senderIssue ?? null;
      lookalike ??= e.lookalike ? visibleName(e.lookalike) : null;
    }
    return {
      id: c.id,
      title: c.title,
      unread: this.host.unread(c),
      preview: last ? last.text.slice(0, PREVIEW_SOURCE) : "",
      senderIssue,
      lookalike,
    };
  }

  /** Another user connected: nothing shown is theirs. */
  reset(): void {
    this.contact.reset();
    this.requests.showError(null);
  }

  dispose(): void {
    this.requests.dispose();
    this.contact.dispose();
  }
}

function peerOf(model: ChatModel, id: string): string {
  return model.conversations.get(id)?.peer ?? id.slice(1);
}
