// What the window tells the core about the user: typing (what counts as typing in the open
// conversation, at most one call a second per conversation; the core repeats its signal every
// 3 s) and reading (one mark_read per conversation in flight, later asks folded into one more).

import type { Conversation } from "./conversation";

/** Least time between two typing calls for one conversation. */
export const TYPING_EVERY_MS = 1000;

export class TypingSender {
  /** Last typing call per conversation (`now()` scale). */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly send: (conversation: string) => Promise<unknown>,
    private readonly now: () => number,
  ) {}

  /** The composer holds `value` while `c` is open. */
  input(c: Conversation | null, value: string): void {
    const text = value.trimStart();
    if (!c || c.kind === "channel" || text.length === 0 || text.startsWith("/")) return;
    // Addressed to someone else: not typing here.
    if (c.kind !== "room" && (text.startsWith("@") || text.startsWith("#"))) return;
    const now = this.now();
    const last = this.sent.get(c.id);
    if (last !== undefined && now - last < TYPING_EVERY_MS) return;
    this.sent.set(c.id, now);
    this.send(c.id).catch(() => undefined);
  }
}

export class ReadMarker {
  /** Calls in flight per conversation; "again": one more is due when it returns. */
  private readonly reading = new Map<string, "busy" | "again">();

  constructor(private readonly send: (conversation: string) => Promise<unknown>) {}

  mark(id: string): void {
    if (this.reading.has(id)) {
      this.reading.set(id, "again");
      return;
    }
    this.reading.set(id, "busy");
    this.send(id)
      .catch(() => undefined)
      .finally(() => {
        const again = this.reading.get(id) === "again";
        this.reading.delete(id);
        if (again) this.mark(id);
      });
  }
}
