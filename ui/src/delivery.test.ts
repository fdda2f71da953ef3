// Durable delivery in the window: outgoing states, the outbox after a restart, reconnect status,
// history (on connect and per conversation), catch-up banners and the delivery setting.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import {
  chat,
  connected,
  deferred,
  el,
  type Harness,
  message,
  outgoing,
  profile,
  sentMessage,
  settle,
  start,
  status,
  text,
  typeAndSend,
} from "./test/harness";

function entries(): { id: string; text: string; state: string | null }[] {
  return [...document.querySelectorAll<HTMLElement>("#messages .entry")].map((e) => ({
    id: e.dataset.id ?? "",
    text: e.querySelector(".text")?.textContent ?? "",
    state: e.dataset.state ?? null,
  }));
}

/** Gives #messages a fake layout: every row 50 px high, a 100 px viewport. */
function fakeLayout(): { list: HTMLElement; top(): number } {
  const list = el("#messages");
  let top = 0;
  Object.defineProperty(list, "scrollHeight", { configurable: true, get: () => list.children.length * 50 });
  Object.defineProperty(list, "clientHeight", { configurable: true, get: () => 100 });
  Object.defineProperty(list, "scrollTop", {
    configurable: true,
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, list.children.length * 50 - 100));
    },
  });
  return { list, top: () => top };
}

function scrollTo(list: HTMLElement, top: number): void {
  list.scrollTop = top;
  list.dispatchEvent(new Event("scroll"));
}

describe("durable delivery", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
    vi.useRealTimers();
  });

  it("follows a sent message through its states, and Retry re-queues a failed one", async () => {
    const m = sentMessage("bob", "hi", "m1");
    harness = await start({ send: () => m });
    await typeAndSend("@bob hi");
    expect(entries()).toEqual([{ id: "m1", text: "@bob hi", state: "queued" }]);
    expect(harness.callsOf("send")).toEqual([{ conversation: null, text: "@bob hi" }]);
    expect(text("#messages .entry.mine .delivery")).toBe("Sending…");

    harness.push([status({ state: "reconnecting", attempt: 1, retryInMs: 500, queued: 1 })]);
    await settle();
    expect(text("#messages .entry.mine .delivery")).toBe("Waiting for connection");
    expect(text("#queued")).toBe("1 message waiting to be sent");

    harness.push([status({ state: "connected" }), outgoing(m, "stored")]);
    await settle();
    expect(text("#messages .entry.mine .delivery")).toBe("Stored — bob gets it on next connect");
    expect(el("#queued").hidden).toBe(true);

    harness.push([outgoing(m, "failed", "OOM command not allowed when used memory > 'maxmemory'")]);
    await settle();
    const failed = el("#messages .entry.mine.failed");
    expect(failed.querySelector(".delivery")?.textContent).toBe("Failed: OOM command not allowed when used memory > 'maxmemory'");
    el<HTMLButtonElement>("#messages button[data-retry='m1']").click();
    await settle();
    expect(harness.callsOf("retry_message")).toEqual([{ id: "m1" }]);

    harness.push([outgoing(m, "queued")]);
    await settle();
    expect(document.querySelector("#messages button[data-retry]")).toBeNull();
    expect(text("#messages .entry.mine .delivery")).toBe("Sending…");
    harness.push([outgoing(m, "delivered")]);
    await settle();
    expect(text("#messages .entry.mine.delivered .delivery")).toBe("Delivered");
    // The same message coming back to us (another device of ours) is not shown twice.
    harness.push([{ kind: "chat", ...m }]);
    await settle();
    expect(entries().map((e) => e.id)).toEqual(["m1"]);
  });

  it("says why a retry was refused, next to the message", async () => {
    const m = sentMessage("bob", "hi", "m1");
    harness = await start({
      send: () => m,
      retry_message: () => {
        throw { code: "invalid_message", message: "no failed message with that id" };
      },
    });
    await typeAndSend("@bob hi");
    harness.push([outgoing(m, "failed", "READONLY")]);
    await settle();
    el<HTMLButtonElement>("button[data-retry='m1']").click();
    await settle();
    expect(text("#messages .entry.mine .detail")).toBe("Retry failed: no failed message with that id");
    expect(el<HTMLButtonElement>("button[data-retry='m1']").disabled).toBe(false);
  });

  it("shows messages left in the outbox by an earlier run in their conversation", async () => {
    harness = await start();
    const old = sentMessage("dave", "from yesterday", "old-1");
    harness.push([outgoing(old, "queued")]);
    await settle();
    expect(text("#conversation-title")).toBe("@dave");
    expect(entries()).toEqual([{ id: "old-1", text: "@dave from yesterday", state: "queued" }]);
    expect(text("#queued")).toBe("");
    harness.push([outgoing(old, "delivered")]);
    await settle();
    expect(entries()).toEqual([{ id: "old-1", text: "@dave from yesterday", state: "delivered" }]);
    expect(text("#conversations li[data-conversation='@dave'] .unread-badge")).toBe("");
  });

  it("does not duplicate a message whose outgoing event beats the reply to send", async () => {
    const m = sentMessage("bob", "race", "m1");
    const reply = deferred<ipc.ChatMessage>();
    harness = await start({ send: () => reply.promise });
    await typeAndSend("@bob race");
    harness.push([outgoing(m, "delivered")]);
    await settle();
    reply.resolve(m);
    await settle();
    expect(entries()).toEqual([{ id: "m1", text: "@bob race", state: "delivered" }]);
    expect(el<HTMLTextAreaElement>("#compose").value).toBe("");
  });

  it("counts down to the next reconnect attempt and retries now on request", async () => {
    harness = await start();
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    harness.push([status({ state: "reconnecting", reason: "connection refused", attempt: 3, retryInMs: 2500, queued: 2 })]);
    await settle();
    expect(text("#status")).toBe("Reconnecting… attempt 3, next try in 3 s — connection refused");
    expect(el("#status").getAttribute("aria-live")).toBe("polite");
    expect(el("#retry-countdown").getAttribute("aria-hidden")).toBe("true");
    expect(text("#queued")).toBe("2 messages waiting to be sent");
    vi.advanceTimersByTime(1000);
    expect(text("#retry-countdown")).toBe(", next try in 2 s");
    vi.advanceTimersByTime(1000);
    expect(text("#retry-countdown")).toBe(", next try in 1 s");
    vi.advanceTimersByTime(1000);
    expect(text("#retry-countdown")).toBe(", trying now…");
    expect(vi.getTimerCount()).toBe(0);

    harness.push([status({ state: "reconnecting", reason: "connection refused", attempt: 4, retryInMs: 10_000, queued: 2 })]);
    await settle();
    expect(text("#retry-countdown")).toBe(", next try in 10 s");
    harness.push([status({ state: "reconnecting", reason: "connection refused", attempt: 4, retryInMs: 5_000, queued: 2 })]);
    await settle();
    expect(text("#retry-countdown")).toBe(", next try in 5 s");
    expect(vi.getTimerCount()).toBe(1);
    const retry = el<HTMLButtonElement>("#retry-now");
    expect(retry.hidden).toBe(false);
    expect(retry.tagName).toBe("BUTTON");
    retry.click();
    await settle();
    expect(harness.callsOf("retry_now")).toHaveLength(1);
    expect(retry.disabled).toBe(true);
    expect(text("#retry-countdown")).toBe(", trying now…");

    harness.push([status({ state: "connected" })]);
    await settle();
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
    expect(el("#retry-now").hidden).toBe(true);
    expect(el("#queued").hidden).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("after a keep-trying start with the server away, asks the local store at once and Redis once connected", async () => {
    let calls = 0;
    harness = await start({
      connect: () => ({ ...connected, online: false }),
      // The store is empty and Redis is away: the first ask fails; the one after connecting works.
      history: () => (++calls === 1 ? Promise.reject({ code: "not_connected", message: "not connected" }) : Promise.resolve({ messages: [], more: null })),
    });
    expect(document.querySelector("#status")?.getAttribute("data-phase")).toBe("reconnecting");
    expect(harness.callsOf("history")).toEqual([{ conversation: null, before: null, limit: 200 }]);
    harness.push([status({ state: "reconnecting", reason: "connection refused", attempt: 1, retryInMs: 400 })]);
    await settle();
    expect(harness.callsOf("history")).toHaveLength(1);
    harness.push([status({ state: "connected" })]);
    await settle();
    expect(harness.callsOf("history")).toHaveLength(2);
    // Later reconnects do not reload it.
    harness.push([status({ state: "reconnecting", attempt: 1 }), status({ state: "connected" })]);
    await settle();
    expect(harness.callsOf("history")).toHaveLength(2);
  });

  it("merges the newest history on connect: in time order, de-duplicated, not unread", async () => {
    const page = deferred<ipc.HistoryPage>();
    harness = await start({ history: () => page.promise });
    expect(harness.callsOf("history")).toEqual([{ conversation: null, before: null, limit: 200 }]);
    // A live message arrives before the history answer, which also holds it.
    harness.push([chat("live and in history", "carol", "c1")]);
    await settle();
    page.resolve({
      messages: [
        message({ id: "b1", sender: "bob", content: "@alice first", sentAt: "2026-11-24T09:00:00Z" }),
        message({ id: "a1", sender: "Alice", to: "bob", content: "@bob second", sentAt: "2026-11-24T09:01:00Z", channel: "bob", conversation: "@bob", mine: true }),
        message({ id: "c1", sender: "carol", content: "live and in history", sentAt: "2026-11-24T09:30:00Z" }),
        message({ id: "b2", sender: "bob", content: "@alice third", sentAt: "2026-11-24T09:02:00Z" }),
      ],
      more: { inbox: "1700000000000-0", sent: null, "room:team": "1700000000000-1" },
    });
    await settle();
    expect(text("#conversation-title")).toBe("@carol");
    expect(entries().map((e) => e.id)).toEqual(["c1"]);
    expect(text("#conversations li[data-key='bob'] .unread")).toBe("");
    el("#conversations li[data-key='bob']").click();
    expect(entries().map((e) => e.text)).toEqual(["@alice first", "@bob second", "@alice third"]);
    expect(el("#messages .entry[data-id='a1']").classList.contains("mine")).toBe(true);
    expect(text("#messages .entry[data-id='a1'] .from")).toBe("Alice (you)");
    // More history exists: the top offers it.
    expect(el("#history-edge button[data-load-older]").textContent).toBe("Load older messages");
  });

  it("loads older messages at the top of a conversation, keeping the view in place", async () => {
    const everything = { inbox: "1700000000100-0", sent: "1700000000050-0" };
    // Opaque, and only handed back to the query that produced it.
    const cursor = { conversation: "@bob", inbox: "1700000000090-0", sent: null };
    const newest = [1, 2, 3].map((i) => message({ id: `b${i}`, content: `newer ${i}`, sentAt: `2026-11-24T10:0${i}:00Z` }));
    const older = [1, 2].map((i) => message({ id: `o${i}`, content: `older ${i}`, sentAt: `2026-11-24T08:0${i}:00Z` }));
    let olderPage = deferred<ipc.HistoryPage>();
    harness = await start({
      history: (_cmd, args) => {
        if (args.conversation === null) return { messages: newest, more: everything };
        // bob's newest page holds nothing new: the next one is asked for at once.
        if (args.before === null) return { messages: newest, more: cursor };
        return olderPage.promise;
      },
    });
    const { list, top } = fakeLayout();
    // Open bob's conversation again so the fake layout applies from the start.
    el("#conversations li[data-key='bob']").click();
    expect(top()).toBe(100); // 4 rows (edge + 3) at the end of a 100 px view.
    scrollTo(list, 0);
    await settle();
    expect(harness.callsOf("history").slice(1)).toEqual([
      { conversation: "@bob", before: null, limit: 60 },
      { conversation: "@bob", before: cursor, limit: 60 },
    ]);
    expect(text("#history-edge")).toBe("Loading older messages…");
    // Scrolling again while loading asks nothing more.
    scrollTo(list, 0);
    await settle();
    expect(harness.callsOf("history")).toHaveLength(3);

    olderPage.reject({ code: "not_connected", message: "not connected" });
    await settle();
    expect(text("#history-edge")).toBe("Couldn't load older messages: not connectedTry again");
    olderPage = deferred<ipc.HistoryPage>();
    el<HTMLButtonElement>("#history-edge button[data-load-older]").click();
    await settle();
    expect(harness.callsOf("history").at(-1)).toEqual({ conversation: "@bob", before: cursor, limit: 60 });

    scrollTo(list, 30);
    olderPage.resolve({ messages: older, more: null });
    await settle();
    expect(entries().map((e) => e.text)).toEqual(["older 1", "older 2", "newer 1", "newer 2", "newer 3"]);
    // Two rows of 50 px went in above: what was on screen stays where it was.
    expect(top()).toBe(130);
    expect(list.firstElementChild?.id).toBe("history-edge");
    expect(text("#history-edge")).toBe("Beginning of history");
    // Nothing older: reaching the top again asks nothing.
    scrollTo(list, 0);
    await settle();
    expect(harness.callsOf("history")).toHaveLength(4);
  });

  it("says history is off in live-only mode and does not ask for it", async () => {
    harness = await start({
      load_profile: () => ({ ...profile, profile: { ...profile.profile, delivery: "liveOnly" } }),
      connect: () => ({ ...connected, delivery: "liveOnly" }),
    });
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ delivery: "liveOnly" });
    await typeAndSend("@bob hi");
    expect(text("#history-edge")).toBe("History is off in live-only mode");
    expect(harness.callsOf("history")).toEqual([]);
    expect(el("#delivery-mode").hidden).toBe(false);
  });

  it("banners the messages that arrived while away, and notices, until dismissed", async () => {
    harness = await start();
    harness.push([chat("while away 1"), chat("while away 2"), { kind: "caughtUp", count: 2 }]);
    await settle();
    expect(el("#banner").hidden).toBe(false);
    expect(text("#banner [data-banner='caught-up'] .banner-text")).toBe("2 messages arrived while you were away");
    harness.push([{ kind: "caughtUp", count: 1 }, { kind: "caughtUp", count: 0 }]);
    await settle();
    expect(text("#banner [data-banner='caught-up'] .banner-text")).toBe("3 messages arrived while you were away");
    harness.push([{ kind: "notice", code: "overflow", text: "The server lost your stored inbox; messages sent to you while you were away may be missing." }]);
    await settle();
    expect(document.querySelectorAll("#banner .banner").length).toBe(2);
    expect(text("#banner [data-banner='notice'] .banner-text")).toContain("lost your stored inbox");
    el<HTMLButtonElement>("#banner [data-banner='caught-up'] button[data-dismiss]").click();
    expect(document.querySelector("#banner [data-banner='caught-up']")).toBeNull();
    el<HTMLButtonElement>("#banner button[data-dismiss]").click();
    expect(el("#banner").hidden).toBe(true);
    // Nothing arrived: no banner.
    harness.push([{ kind: "caughtUp", count: 0 }]);
    await settle();
    expect(el("#banner").hidden).toBe(true);
  });
});

describe("delivery setting", () => {
  let harness: Harness | null = null;
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
  });

  it("connects with the saved delivery mode", async () => {
    harness = await start();
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ username: "alice", delivery: "durable" });
  });

  it("offers durable (default) and live only, explained, and sends the choice with connect", async () => {
    harness = await start({ load_profile: () => ({ ...profile, profile: { ...profile.profile, username: "", delivery: undefined } }) });
    const durable = el<HTMLInputElement>("input[data-delivery='durable']");
    const liveOnly = el<HTMLInputElement>("input[data-delivery='liveOnly']");
    expect(durable.checked).toBe(true);
    expect(liveOnly.checked).toBe(false);
    expect(text("label[for='delivery-durable']")).toBe("Durable (recommended)");
    expect(text("#delivery-durable-hint")).toContain("kept on the Redis server (in Redis Streams)");
    expect(text("label[for='delivery-liveOnly']")).toBe("Live only (like the original client)");
    expect(text("#delivery-liveOnly-hint")).toContain("messages to offline people are lost and there is no history");
    liveOnly.click();
    el<HTMLInputElement>("#username").value = "alice";
    el<HTMLFormElement>("#settings").requestSubmit();
    await settle();
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ username: "alice", delivery: "liveOnly" });
  });
});
