import { describe, expect, it } from "vitest";
import { ChatModel } from "../model";
import type { SessionEvent } from "../ipc";
import { MessageList, WINDOW } from "./messages";

function chats(n: number, from = 0): SessionEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "chat" as const,
    id: `m${from + i}`,
    sender: "bob",
    to: "alice",
    content: `message ${from + i}`,
    sentAt: null,
    receivedAt: "2026-11-24T10:00:00Z",
    channel: "alice",
    legacy: false,
    durable: false,
    conversation: "@bob",
    room: null,
    mine: false,
    mentionsMe: false,
    at: 1_764_000_000_000 + from + i,
    trust: "signed" as const,
    request: false,
  }));
}

describe("MessageList windowing", () => {
  it("keeps the DOM bounded however long the conversation gets, and loses nothing", () => {
    const model = new ChatModel();
    const list = new MessageList();
    document.body.append(list.el);
    model.apply(chats(1));
    model.select("@bob");
    list.show(model.conversations.get("@bob") ?? null);
    // 10k messages arriving in frame-sized batches, as the shell sends them.
    for (let i = 1; i < 10_000; i += 160) {
      const changes = model.apply(chats(Math.min(160, 10_000 - i), i));
      for (const c of changes) if ("appended" in c) list.append(c.conversation, c.appended);
    }
    const rows = list.el.querySelectorAll("#messages > li");
    expect(rows.length).toBeLessThanOrEqual(WINDOW);
    expect(list.el.querySelectorAll("*").length).toBeLessThan(2000);
    expect(model.conversations.get("@bob")?.entries.length).toBe(10_000);
    expect(rows[rows.length - 1]?.textContent).toContain("message 9999");
    expect(list.range).toEqual({ start: 10_000 - WINDOW, end: 10_000, total: 10_000 });
    list.dispose();
  });
});
