// Message requests: direct conversations from strangers wait under Requests until accepted,
// answered or blocked, and stay bounded under a flood of fake senders.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { ChatModel } from "./model";
import { MAX_REQUEST_MESSAGES, MAX_REQUESTS, SHOWN_REQUESTS } from "./requests";
import { el, type Harness, message, settle, start, text, typeAndSend } from "./test/harness";

function request(sender: string, content: string, extra: Partial<ipc.ChatMessage> = {}): ipc.SessionEvent {
  return { kind: "chat", ...message({ content, sender, request: true, trust: "unsigned", ...extra }) };
}

function titles(list: string): string[] {
  return [...document.querySelectorAll(`${list} .title`)].map((e) => e.textContent ?? "");
}

describe("requests", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
    document.title = "Redchat";
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
  });

  it("lists a stranger's conversation under Requests, not Direct messages, and accepting moves it", async () => {
    harness = await start({ set_standing: () => null });
    harness.push([{ kind: "chat", ...message({ content: "hi", sender: "bob" }) }, request("eve", "hello, I'm new"), { kind: "unread", conversation: "@eve", count: 1, mentions: 0 }]);
    await settle();
    expect(titles("#directs")).toEqual(["bob"]);
    expect(titles("#requests")).toEqual(["eve"]);
    expect(el("#requests-section").hidden).toBe(false);
    expect(text("#requests-count")).toBe("1");
    expect(text("#requests li[data-conversation='@eve'] .preview")).toBe("hello, I'm new");
    // A request is never opened by itself, and its unread count stays out of the window title.
    expect(text("#conversation-title")).toBe("@bob");
    expect(document.title).toBe("Redchat");

    el<HTMLButtonElement>("#requests button[data-accept='@eve']").click();
    await settle();
    expect(harness.callsOf("set_standing")).toEqual([{ user: "eve", standing: "contact" }]);
    expect(titles("#requests")).toEqual([]);
    expect(titles("#directs").sort()).toEqual(["bob", "eve"]);
    expect(el("#requests-section").hidden).toBe(true);
    // Later messages from eve stay in the conversation.
    harness.push([{ kind: "chat", ...message({ content: "thanks", sender: "eve" }) }]);
    await settle();
    expect(titles("#requests")).toEqual([]);
  });

  it("blocking removes the conversation and its messages, and late messages from them are dropped and counted", async () => {
    harness = await start({ set_standing: () => null });
    harness.push([request("spam", "buy now", { id: "s1" }), request("spam", "buy now!!", { id: "s2" })]);
    await settle();
    document.querySelector<HTMLElement>("#requests li[data-conversation='@spam']")?.click();
    await settle();
    expect(text("#conversation-title")).toBe("@spam");
    expect(el("#request-bar").hidden).toBe(false);
    el<HTMLButtonElement>("#requests button[data-block='@spam']").click();
    await settle();
    expect(harness.callsOf("set_standing")).toEqual([{ user: "spam", standing: "blocked" }]);
    expect(harness.app.model.conversations.has("@spam")).toBe(false);
    expect(document.querySelector("#requests li[data-conversation='@spam']")).toBeNull();
    expect(document.querySelector("#messages [data-id='s1']")).toBeNull();
    expect(text("#conversation-title")).toBe("Redchat");
    // In flight before the core knew: dropped here; then the core's own count.
    harness.push([request("spam", "hello?", { id: "s3" })]);
    await settle();
    expect(harness.app.model.conversations.has("@spam")).toBe(false);
    harness.push([{ kind: "blocked", user: "spam", count: 4 }]);
    await settle();
    expect(text("#blocked-dropped")).toBe("5 messages from blocked senders dropped");
    harness.push([{ kind: "blocked", user: "spam", count: 6 }]);
    await settle();
    expect(text("#blocked-dropped")).toBe("7 messages from blocked senders dropped");
  });

  it("the header of an open request accepts or blocks it too, and replying makes it a conversation", async () => {
    harness = await start({ set_standing: () => null });
    harness.push([request("dan", "hey"), request("fay", "yo")]);
    await settle();
    document.querySelector<HTMLElement>("#requests li[data-conversation='@dan']")?.click();
    await settle();
    el<HTMLButtonElement>("#request-accept").click();
    await settle();
    expect(harness.callsOf("set_standing")).toEqual([{ user: "dan", standing: "contact" }]);
    expect(el("#request-bar").hidden).toBe(true);
    expect(titles("#directs")).toEqual(["dan"]);

    document.querySelector<HTMLElement>("#requests li[data-conversation='@fay']")?.click();
    await settle();
    await typeAndSend("hi fay");
    expect(harness.callsOf("send").at(-1)).toEqual({ conversation: "@fay", text: "hi fay" });
    expect(titles("#requests")).toEqual([]);
    expect(el("#request-bar").hidden).toBe(true);
    expect(titles("#directs").sort()).toEqual(["dan", "fay"]);
  });

  it("says why accepting failed and keeps the request", async () => {
    harness = await start({
      set_standing: () => {
        throw { code: "not_connected", message: "not connected" };
      },
    });
    harness.push([request("gus", "hi")]);
    await settle();
    el<HTMLButtonElement>("#requests button[data-accept='@gus']").click();
    await settle();
    expect(text("#requests-error")).toBe("Couldn't accept gus: not connected");
    expect(titles("#requests")).toEqual(["gus"]);
    expect(el<HTMLButtonElement>("#requests button[data-accept='@gus']").disabled).toBe(false);
  });

  it("stays bounded under 10,000 distinct fake senders, and shows how many were left out", async () => {
    harness = await start();
    const flood: ipc.SessionEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      flood.push(request(`fake${i}`, `spam ${i}`, { id: `f${i}` }), { kind: "unread", conversation: `@fake${i}`, count: 1, mentions: 0 });
    }
    harness.push(flood);
    // And 30 more messages from one of the senders kept.
    harness.push(Array.from({ length: 30 }, (_, i) => request("fake0", `again ${i}`, { id: `again${i}` })));
    await settle();
    const rows = document.querySelectorAll("#requests > li");
    expect(rows.length).toBeLessThanOrEqual(SHOWN_REQUESTS + 1);
    expect(rows.length).toBeGreaterThan(0);
    expect(document.querySelectorAll("#directs > li").length).toBe(0);
    expect(document.querySelectorAll(".sidebar li").length).toBeLessThan(100);
    const model = harness.app.model;
    expect(model.requestCount).toBe(MAX_REQUESTS);
    expect(model.conversations.size).toBe(MAX_REQUESTS);
    expect(model.conversations.get("@fake0")?.entries.length).toBe(MAX_REQUEST_MESSAGES);
    // What is not shown and what was not kept are both said.
    expect(text("#requests-count")).toBe("10000");
    expect(text("#requests-more")).toContain("and 9,950 more");
    expect(text("#requests-dropped")).toBe("Too many requests at once: 9,500 requests, 9,511 messages not kept here");
    expect(document.title).toBe("Redchat");
    // Show more adds a page of rows, never all of them.
    el<HTMLButtonElement>("#requests-show-more").click();
    await settle();
    expect(document.querySelectorAll("#requests > li").length).toBe(2 * SHOWN_REQUESTS);
    expect(text("#requests-more")).toContain("and 9,900 more");
  });

  it("the model keeps at most MAX_REQUESTS requests and lets a real conversation in whatever the flood", () => {
    const model = new ChatModel();
    model.me = "alice";
    const batch: ipc.SessionEvent[] = Array.from({ length: MAX_REQUESTS + 10 }, (_, i) => request(`x${i}`, "hi"));
    model.apply(batch);
    expect(model.requestCount).toBe(MAX_REQUESTS);
    expect(model.ledger.droppedConversations).toBe(10);
    // A contact's message is never a request, so never left out.
    model.apply([{ kind: "chat", ...message({ content: "hi alice", sender: "bob" }) }]);
    expect(model.visible().map((c) => c.id)).toEqual(["@bob"]);
    // Accepting one makes room for a new request.
    model.accept("@x0");
    model.apply([request("late", "hi")]);
    expect(model.conversations.has("@late")).toBe(true);
    expect(model.requestList()[0]?.id).toBe("@late");
  });

  it("a sender whose name is not honest goes to Requests, shown with the hidden character", () => {
    const model = new ChatModel();
    model.me = "alice";
    // The core marks such a message a request (crates/core/tests/it/identity.rs).
    model.apply([{ kind: "chat", ...message({ content: "hi", sender: "b\u200Bob", request: true, senderIssue: "a username cannot contain invisible characters (U+200B)" }) }]);
    expect(model.visible()).toEqual([]);
    expect(model.requestList().map((c) => c.title)).toEqual(["b⟨U+200B⟩ob"]);
  });
});
