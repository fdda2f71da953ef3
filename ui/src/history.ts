// History in the window: the newest messages of every conversation right after connecting,
// then older pages per conversation when its top is reached. Each conversation pages with
// its own cursor, starting from its newest message; pages of messages already held are
// skipped (at most EMPTY_PAGES in a row). A late first page of an earlier session is dropped.

import * as ipc from "./ipc";
import type { Change, ChatModel } from "./model";

/** Messages asked for right after connecting (all conversations). */
export const RECENT_HISTORY = 200;
/** Messages asked for per "load older" of one conversation. */
export const OLDER_PAGE = 60;
/** Pages fetched in a row while they bring nothing new for the conversation. */
const EMPTY_PAGES = 5;

export interface HistoryDeps {
  backend: Pick<typeof ipc, "history" | "messageContext">;
  model: ChatModel;
  /** Shows what merging a page changed. */
  apply(changes: Change[]): void;
  /** The top-of-history row of conversation `id` (null: the open one) changed. */
  refreshEdge(id: string | null): void;
  /** Live-only mode: no history at all. */
  liveOnly(): boolean;
}

/** A change's conversation, if it has one. */
function conversationOf(change: Change): string | null {
  return "conversation" in change ? change.conversation : null;
}

export class History {
  /** The newest history has been merged for this session (else: load it once connected). */
  recentLoaded = false;
  /** Bumped per load of the newest history, so a late page of an earlier session is dropped. */
  private session = 0;

  constructor(private readonly deps: HistoryDeps) {}

  /** Merges the newest history of all conversations. */
  async loadRecent(): Promise<void> {
    const { backend, model } = this.deps;
    const session = ++this.session;
    if (this.deps.liveOnly()) {
      model.setHistoryOff(true);
      this.deps.refreshEdge(null);
      return;
    }
    model.setHistoryOff(false);
    try {
      const page = await backend.history(null, null, RECENT_HISTORY);
      if (session !== this.session) return;
      this.deps.apply(model.mergeHistory(page.messages));
      this.recentLoaded = true;
    } catch {
      // Not fatal: each conversation loads its own history from the newest when asked.
    }
    this.deps.refreshEdge(null);
  }

  /**
   * Shows message `id` of conversation `conversation` in context: where it is already held,
   * as it is; else its neighbours from the local store replace what is shown (the newest come
   * back with `toLatest`). Resolves to false when it is no longer stored.
   */
  async openAt(conversation: string, id: string): Promise<boolean> {
    const { backend, model } = this.deps;
    const held = model.conversations.get(conversation)?.entries.some((e) => e.id === id);
    if (held) return true;
    try {
      const page = await backend.messageContext(conversation, id);
      this.deps.apply(model.showContext(conversation, page.messages, page.more, page.newer));
      return true;
    } catch {
      return false;
    }
  }

  /** Back to the newest messages of conversation `id` (after a search hit showed older ones). */
  async toLatest(id: string): Promise<void> {
    this.deps.apply(this.deps.model.toLatest(id));
    await this.loadOlder(id);
  }

  /** Loads the page of history before the oldest entry of conversation `id`. */
  async loadOlder(id: string): Promise<void> {
    const { backend, model } = this.deps;
    const c = model.conversations.get(id);
    if (!c || (c.older.state !== "idle" && c.older.state !== "error")) return;
    let cursor = c.older.cursor;
    c.older = { state: "loading", cursor, error: null };
    this.deps.refreshEdge(id);
    try {
      for (let pages = 0; pages < EMPTY_PAGES; pages++) {
        const page = await backend.history(id, cursor, OLDER_PAGE);
        // Another user connected meanwhile: this conversation is gone.
        if (model.conversations.get(id) !== c) return;
        const changes = model.mergeHistory(page.messages);
        cursor = page.more;
        c.older = { state: cursor ? "loading" : "end", cursor, error: null };
        this.deps.apply(changes);
        // A page of messages already shown (e.g. the newest ones) brings nothing: go on.
        if (!cursor || changes.some((change) => conversationOf(change) === id)) break;
      }
      if (c.older.state === "loading") c.older = { state: "idle", cursor, error: null };
    } catch (raw) {
      if (model.conversations.get(id) !== c) return;
      c.older = { state: "error", cursor, error: ipc.toIpcError(raw).message };
    }
    this.deps.refreshEdge(id);
  }
}
