// Conversations in the window (issue 8): rooms and direct messages in the sidebar, the "new
// conversation" box, the core's unread and mention counts, typing, members and presence,
// membership lines, our own messages from another device, read positions, /join /leave /who.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { ChatModel, TYPING_MS } from "./model";
import { chat, el, type Harness, message, openFromBox, profile, roomChat, sentMessage, settle, start, text, typeAndSend } from "./test/harness";

function titles(list: string): string[] {
  return [...document.querySelectorAll(`${list} .title`)].map((e) => e.textContent ?? "");
}

function entryTexts(): string[] {
  return [...document.querySelectorAll("#messages .entry .text")].map((e) => e.textContent ?? "");
}

function typing(conversation: string, user: string): ipc.SessionEvent {
  return { kind: "typing", conversation, user };
}

function membership(id: string, user: string, action: "join" | "leave", conversation = "#team"): ipc.SessionEvent {
  return { kind: "membership", id, conversation, room: conversation.slice(1), user, action, at: Date.now(), receivedAt: new Date().toISOString(), trust: "signed" };
}

function input(value: string): void {
  const compose = el<HTMLTextAreaElement>("#compose");
  compose.value = value;
  compose.dispatchEvent(new Event("input"));
}

describe("conversations", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
    document.title = "Redchat";
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
    vi.useRealTimers();
  });

  it("renders every message of a batch where unread counts come between them (regression: firehose showed only the first)", async () => {
    harness = await start();
    await typeAndSend("@fire go");
    const batch: ipc.SessionEvent[] = [];
    for (let i = 0; i < 20; i++) {
      batch.push(chat(`m${i}`, "fire"), { kind: "unread", conversation: "@fire", count: i + 1, mentions: 0 });
    }
    harness.push(batch);
    await settle();
    expect(entryTexts().filter((t) => t.startsWith("m"))).toHaveLength(20);
  });

  it("shows plain text that arrived on a channel nobody joined (never dropped from view)", async () => {
    harness = await start();
    harness.push([
      { kind: "joined", conversations: [] },
      { kind: "plain", id: "p1", conversation: "~alice", channel: "alice", text: "from redis-cli", receivedAt: new Date().toISOString() },
    ]);
    await settle();
    expect(document.querySelector("#rooms li[data-conversation='~alice']")).not.toBeNull();
  });

  it("lists rooms and direct messages in their own sections, and the box joins rooms and opens people", async () => {
    harness = await start();
    harness.push([{ kind: "joined", conversations: ["#general"] }, chat("hi", "carol")]);
    await settle();
    expect(titles("#rooms")).toEqual(["#general"]);
    expect(titles("#directs")).toEqual(["carol"]);

    await openFromBox("#team");
    expect(harness.callsOf("join")).toEqual([{ name: "#team" }]);
    expect(el("#rooms li[data-conversation='#team']").classList.contains("active")).toBe(true);
    expect(text("#conversation-title")).toBe("#team");
    expect(el("#leave-room").hidden).toBe(false);
    expect(el("#member-panel").hidden).toBe(false);
    expect(el<HTMLInputElement>("#new-conversation").value).toBe("");
    // Opening it reads it, asks who is in it, and fetches its newest history.
    expect(harness.callsOf("mark_read").at(-1)).toEqual({ conversation: "#team" });
    expect(harness.callsOf("members")).toEqual([{ conversation: "#team" }]);
    expect(harness.callsOf("history").at(-1)).toEqual({ conversation: "#team", before: null, limit: 60 });

    await openFromBox("Bob");
    expect(text("#conversation-title")).toBe("@bob");
    expect(titles("#directs")).toContain("bob");
    expect(el("#leave-room").hidden).toBe(true);
    expect(el("#member-panel").hidden).toBe(true);
    await openFromBox("@dave");
    expect(text("#conversation-title")).toBe("@dave");
    expect(harness.callsOf("join")).toHaveLength(1);

    await openFromBox("~messages");
    expect(harness.callsOf("join").at(-1)).toEqual({ name: "~messages" });
    expect(text("#rooms li[data-conversation='~messages'] .title")).toBe("~messages");

    // The joined list is authoritative (e.g. #general was left on another device).
    harness.push([{ kind: "joined", conversations: ["#team", "~messages"] }]);
    await settle();
    expect(document.querySelector("#rooms li[data-conversation='#general']")).toBeNull();
    expect(titles("#rooms").sort()).toEqual(["#team", "~messages"]);
  });

  it("says why a room cannot be joined, keeping what was typed", async () => {
    harness = await start({
      join: () => {
        throw { code: "invalid_room", message: "a room name cannot contain \"*\"" };
      },
    });
    await openFromBox("#te*m");
    expect(text("#new-conversation-error")).toBe('a room name cannot contain "*"');
    expect(el<HTMLInputElement>("#new-conversation").value).toBe("#te*m");
    await openFromBox("b?b");
    expect(text("#new-conversation-error")).toContain('"?"');
    expect(harness.callsOf("join")).toHaveLength(1);
  });

  it("shows the core's unread and mention counts as badges and in the window title", async () => {
    harness = await start();
    await openFromBox("@carol");
    harness.push([
      { kind: "joined", conversations: ["#team"] },
      { kind: "unread", conversation: "#team", count: 3, mentions: 1 },
      { kind: "unread", conversation: "@bob", count: 2, mentions: 0 },
    ]);
    await settle();
    const team = el("#rooms li[data-conversation='#team']");
    expect(team.querySelector<HTMLElement>(".unread-badge")?.textContent).toBe("3");
    expect(team.querySelector<HTMLElement>(".mention-badge")?.hidden).toBe(false);
    expect(team.querySelector<HTMLElement>(".mention-badge")?.textContent).toBe("@1");
    const bob = el("#directs li[data-conversation='@bob']");
    expect(bob.querySelector<HTMLElement>(".unread-badge")?.textContent).toBe("2");
    expect(bob.querySelector<HTMLElement>(".mention-badge")?.hidden).toBe(true);
    expect(document.title).toBe("(5) Redchat");

    // Read on another device: the core says 0.
    harness.push([{ kind: "unread", conversation: "#team", count: 0, mentions: 0 }]);
    await settle();
    expect(team.querySelector<HTMLElement>(".unread-badge")?.hidden).toBe(true);
    expect(team.querySelector<HTMLElement>(".mention-badge")?.hidden).toBe(true);
    expect(document.title).toBe("(2) Redchat");

    // The open conversation is being read: no badge, not in the title.
    harness.push([{ kind: "unread", conversation: "@carol", count: 4, mentions: 0 }]);
    await settle();
    expect(el("#directs li[data-conversation='@carol'] .unread-badge").hidden).toBe(true);
    expect(document.title).toBe("(2) Redchat");

    harness.push([{ kind: "unread", conversation: "@bob", count: 0, mentions: 0 }, { kind: "unread", conversation: "@carol", count: 0, mentions: 0 }]);
    await settle();
    expect(document.title).toBe("Redchat");
  });

  it("marks read only while the window has focus, and when it comes back", async () => {
    let focused = false;
    harness = await start({}, { hasFocus: () => focused });
    harness.push([chat("one", "bob", "b1"), { kind: "unread", conversation: "@bob", count: 1, mentions: 0 }]);
    await settle();
    expect(text("#conversation-title")).toBe("@bob");
    expect(harness.callsOf("mark_read")).toEqual([]);
    // Not focused: the open conversation's count shows.
    expect(text("#directs li[data-conversation='@bob'] .unread-badge")).toBe("1");
    expect(document.title).toBe("(1) Redchat");

    focused = true;
    window.dispatchEvent(new Event("focus"));
    await settle();
    expect(harness.callsOf("mark_read")).toEqual([{ conversation: "@bob" }]);
    expect(document.title).toBe("Redchat");

    // New messages in the open conversation are read as they arrive; not our own.
    harness.push([chat("two", "bob", "b2")]);
    await settle();
    expect(harness.callsOf("mark_read")).toHaveLength(2);
    harness.push([{ kind: "chat", ...message({ content: "@bob mine", sender: "alice", conversation: "@bob", mine: true }) }]);
    await settle();
    expect(harness.callsOf("mark_read")).toHaveLength(2);
    // Elsewhere: not read.
    harness.push([chat("hey", "carol")]);
    await settle();
    expect(harness.callsOf("mark_read")).toHaveLength(2);
  });

  it("shows and expires typing, and a flood of typing signals touches only the typing line", async () => {
    harness = await start();
    harness.push([chat("hi", "bob", "b1")]);
    await settle();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const list = el("#messages");
    const sidebar = el("#conversations");
    const observer = new MutationObserver(() => undefined);
    observer.observe(list, { childList: true, subtree: true, characterData: true, attributes: true });
    observer.observe(sidebar, { childList: true, subtree: true, characterData: true, attributes: true });

    harness.push([typing("@bob", "bob")]);
    expect(text("#typing")).toBe("bob is typing…");
    for (let i = 0; i < 200; i++) harness.push(Array.from({ length: 20 }, () => typing("@bob", "bob")));
    expect(observer.takeRecords()).toEqual([]);
    expect(text("#typing")).toBe("bob is typing…");

    vi.advanceTimersByTime(TYPING_MS - 1);
    expect(text("#typing")).toBe("bob is typing…");
    // Repeated: shown 6 s from the repeat.
    harness.push([typing("@bob", "bob")]);
    vi.advanceTimersByTime(TYPING_MS - 1);
    expect(text("#typing")).toBe("bob is typing…");
    vi.advanceTimersByTime(1);
    expect(text("#typing")).toBe("");
    expect(el("#typing").dataset.count).toBe("0");
    expect(observer.takeRecords()).toEqual([]);

    // A message from bob ends his signal at once.
    harness.push([typing("@bob", "bob")]);
    harness.push([chat("done", "Bob", "b2")]);
    expect(text("#typing")).toBe("");
    // Typing elsewhere, and our own signal (another device), do not show here.
    harness.push([typing("@carol", "carol"), typing("@bob", "alice")]);
    expect(text("#typing")).toBe("");
    observer.disconnect();
  });

  it("names up to two typists in a room, then says several", async () => {
    harness = await start();
    await typeAndSend("/join #team");
    harness.push([typing("#team", "bob")]);
    expect(text("#typing")).toBe("bob is typing…");
    harness.push([typing("#team", "carol")]);
    expect(text("#typing")).toBe("bob and carol are typing…");
    harness.push([typing("#team", "dave")]);
    expect(text("#typing")).toBe("several people are typing…");
    // Another conversation opened: its own (empty) line.
    await openFromBox("@bob");
    expect(text("#typing")).toBe("");
  });

  it("sends typing signals from the composer at most once a second, not for commands or channels", async () => {
    let now = 1_000_000;
    harness = await start({}, { now: () => now });
    await openFromBox("@bob");
    input("h");
    input("he");
    input("hel");
    expect(harness.callsOf("typing")).toEqual([{ conversation: "@bob" }]);
    now += 999;
    input("hell");
    expect(harness.callsOf("typing")).toHaveLength(1);
    now += 1;
    input("hello");
    expect(harness.callsOf("typing")).toHaveLength(2);
    now += 5000;
    input("/who");
    input("@carol hi");
    expect(harness.callsOf("typing")).toHaveLength(2);
    await openFromBox("~messages");
    input("hi");
    expect(harness.callsOf("typing")).toHaveLength(2);
    await openFromBox("#team");
    input("@bob look");
    expect(harness.callsOf("typing").at(-1)).toEqual({ conversation: "#team" });
  });

  it("shows room members with online dots, last seen, and unreadable entries", async () => {
    harness = await start({
      members: () => ({
        members: [
          { user: "alice", online: true, lastSeen: null },
          { user: "carol", online: false, lastSeen: "2026-11-24T09:00:00Z" },
          { user: "bob", online: true, lastSeen: null },
        ],
        unreadable: 2,
      }),
    });
    await openFromBox("#team");
    const users = [...document.querySelectorAll<HTMLElement>("#members li[data-user]")].map((li) => li.dataset.user);
    expect(users).toEqual(["alice", "bob", "carol"]);
    expect(text("#members li[data-user='alice']")).toBe("alice (you)");
    expect(document.querySelector("#members .presence-dot.online[data-user='bob']")).not.toBeNull();
    const carol = el("#members .presence-dot[data-user='carol']");
    expect(carol.classList.contains("offline")).toBe(true);
    expect(carol.title).toMatch(/^last seen /);
    expect(el("#members-unreadable").hidden).toBe(false);
    expect(text("#members-unreadable")).toBe("2 unreadable entries");

    // Presence changes reach the dots (and bob's direct-message row).
    harness.push([{ kind: "presence", user: "carol", online: true, lastSeen: null }, chat("hi", "bob")]);
    await settle();
    expect(el("#members .presence-dot[data-user='carol']").classList.contains("online")).toBe(true);
    expect(document.querySelector("#directs .presence-dot.online[data-user='bob']")).not.toBeNull();
    harness.push([{ kind: "presence", user: "bob", online: false, lastSeen: "2026-11-24T10:00:00Z" }]);
    await settle();
    expect(document.querySelector("#directs .presence-dot.offline[data-user='bob']")).not.toBeNull();
    expect(el("#members .presence-dot[data-user='bob']").classList.contains("offline")).toBe(true);

    // A members event replaces the list.
    harness.push([{ kind: "members", conversation: "#team", members: [{ user: "alice", online: true, lastSeen: null }, { user: "dave", online: false, lastSeen: null }], unreadable: 0 }]);
    await settle();
    expect([...document.querySelectorAll<HTMLElement>("#members li[data-user]")].map((li) => li.dataset.user)).toEqual(["alice", "dave"]);
    expect(el("#members .presence-dot[data-user='dave']").title).toBe("offline");
    expect(el("#members-unreadable").hidden).toBe(true);
  });

  it("shows joins and leaves as system lines in the room, once each", async () => {
    harness = await start();
    await openFromBox("#team");
    harness.push([membership("j1", "dave", "join"), membership("j1", "dave", "join"), membership("l1", "dave", "leave"), membership("j2", "alice", "join")]);
    await settle();
    const system = [...document.querySelectorAll("#messages .entry.system .text")].map((e) => e.textContent);
    expect(system).toEqual(["dave joined", "dave left", "You joined"]);
    expect(el("#messages .entry.system[data-id='j1']").dataset.user).toBe("dave");
  });

  it("highlights room messages that mention me", async () => {
    harness = await start();
    await openFromBox("#team");
    harness.push([roomChat("team", "@alice look", "bob", { id: "r1", mentionsMe: true }), roomChat("team", "lunch?", "carol", { id: "r2" })]);
    await settle();
    expect(el("#messages .entry[data-id='r1']").classList.contains("mention")).toBe(true);
    expect(el("#messages .entry[data-id='r2']").classList.contains("mention")).toBe(false);
  });

  it("shows our messages sent from another device once, as ours", async () => {
    const m = sentMessage("@bob", "from my laptop", "m1");
    harness = await start({ send: () => m });
    harness.push([{ kind: "chat", ...message({ id: "d1", sender: "alice", to: "bob", content: "@bob from my phone", conversation: "@bob", mine: true }) }]);
    await settle();
    expect(text("#conversation-title")).toBe("@bob");
    expect(text("#messages .entry.mine[data-id='d1'] .from")).toBe("alice (you)");
    expect(el("#messages .entry[data-id='d1']").dataset.state).toBeUndefined();
    harness.push([{ kind: "chat", ...message({ id: "d1", sender: "alice", to: "bob", content: "@bob from my phone", conversation: "@bob", mine: true }) }]);
    await settle();
    // Sent here, and coming back as a chat event: one entry.
    await typeAndSend("from my laptop");
    harness.push([{ kind: "chat", ...m }]);
    await settle();
    expect([...document.querySelectorAll<HTMLElement>("#messages .entry")].map((e) => e.dataset.id)).toEqual(["d1", "m1"]);
    expect(el("#messages .entry[data-id='m1']").classList.contains("mine")).toBe(true);
  });

  it("sends in a room to the room, and #room lines from elsewhere to that room", async () => {
    harness = await start();
    await openFromBox("#team");
    await typeAndSend("@bob look at this");
    expect(harness.callsOf("send").at(-1)).toEqual({ conversation: "#team", text: "@bob look at this" });
    await openFromBox("@bob");
    await typeAndSend("#team hello all");
    expect(harness.callsOf("send").at(-1)).toEqual({ conversation: null, text: "#team hello all" });
    expect(text("#conversation-title")).toBe("#team");
    expect(entryTexts()).toEqual(["@bob look at this", "hello all"]);
  });

  it("/join opens a room, /leave leaves the open one, /who refreshes and focuses the who list", async () => {
    harness = await start({ who: () => [{ user: "bob", online: true, lastSeen: null }, { user: "alice", online: true, lastSeen: null }] });
    await openFromBox("@carol");
    await typeAndSend("/join #team");
    expect(harness.callsOf("join")).toEqual([{ name: "#team" }]);
    expect(text("#conversation-title")).toBe("#team");
    expect(el<HTMLTextAreaElement>("#compose").value).toBe("");
    expect(harness.callsOf("send")).toEqual([]);

    await typeAndSend("/leave");
    expect(harness.callsOf("leave")).toEqual([{ conversation: "#team" }]);
    expect(document.querySelector("#rooms li[data-conversation='#team']")).toBeNull();
    expect(text("#conversation-title")).toBe("@carol");

    await typeAndSend("/leave");
    expect(text("#compose-error")).toContain("/leave leaves a room");
    expect(el<HTMLTextAreaElement>("#compose").value).toBe("/leave");
    expect(harness.callsOf("leave")).toHaveLength(1);

    await typeAndSend("/who");
    expect(harness.callsOf("who")).toHaveLength(1);
    // Everyone but me.
    expect([...document.querySelectorAll<HTMLElement>("#who li[data-user]")].map((li) => li.dataset.user)).toEqual(["bob"]);
    expect(el("#who").contains(document.activeElement)).toBe(true);
  });

  it("the Leave button leaves the open room", async () => {
    harness = await start();
    await openFromBox("#team");
    el<HTMLButtonElement>("#leave-room").click();
    await settle();
    expect(harness.callsOf("leave")).toEqual([{ conversation: "#team" }]);
    expect(document.querySelector("#rooms li[data-conversation='#team']")).toBeNull();
    expect(text("#conversation-title")).toBe("Redchat");
  });

  it("lists who is online and opens a direct conversation on click", async () => {
    harness = await start();
    harness.push([
      {
        kind: "who",
        users: [
          { user: "carol", online: false, lastSeen: "2026-11-24T09:00:00Z" },
          { user: "bob", online: true, lastSeen: null },
        ],
      },
    ]);
    await settle();
    expect([...document.querySelectorAll<HTMLElement>("#who li[data-user]")].map((li) => li.dataset.user)).toEqual(["bob", "carol"]);
    expect(document.querySelector("#who .presence-dot.online[data-user='bob']")).not.toBeNull();
    expect(document.querySelector("#who .presence-dot.offline[data-user='carol']")).not.toBeNull();
    el<HTMLButtonElement>("#who li[data-user='carol'] button").click();
    await settle();
    expect(text("#conversation-title")).toBe("@carol");
    expect(document.querySelector("#directs .presence-dot.offline[data-user='carol']")).not.toBeNull();
  });

  it("offers Share when I am online (checked by default) and sends it with connect", async () => {
    harness = await start({ load_profile: () => ({ ...profile, profile: { ...profile.profile, username: "" } }) });
    const share = el<HTMLInputElement>("#share-presence");
    expect(share.checked).toBe(true);
    expect(text("label[for='share-presence']")).toBe("Share when I am online");
    share.click();
    el<HTMLInputElement>("#username").value = "alice";
    el<HTMLFormElement>("#settings").requestSubmit();
    await settle();
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ username: "alice", sharePresence: false });
  });

  it("connects a profile saved before the setting existed as sharing", async () => {
    const old: Partial<ipc.Profile> = { ...profile.profile };
    delete old.sharePresence;
    harness = await start({ load_profile: () => ({ ...profile, profile: old as ipc.Profile }), connect: (_c, args) => ({ ...connectedFor(args), sharePresence: false }) });
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ sharePresence: true });
    expect(el("#presence-hidden").hidden).toBe(false);
  });
});

function connectedFor(args: Record<string, unknown>): Omit<ipc.Connected, "sharePresence"> {
  const request = args.request as ipc.ConnectRequest;
  return { user: request.username, inbox: request.username, addr: "127.0.0.1:6379", tls: false, notes: [], password: "none", keychainProblem: null, delivery: "durable", online: true };
}

describe("ChatModel", () => {
  it("keys conversations by the id events carry, with kind and title", () => {
    const model = new ChatModel();
    model.me = "alice";
    model.apply([
      { kind: "chat", ...message({ content: "hi", sender: "bob", conversation: "@bob" }) },
      { kind: "chat", ...message({ content: "hey", sender: "bob", conversation: "#team", room: "team" }) },
      { kind: "plain", id: "p", conversation: "~messages", channel: "messages", text: "raw", receivedAt: "2026-11-24T10:00:00Z" },
    ]);
    const kinds = [...model.conversations.values()].map((c) => [c.id, c.kind, c.title]);
    expect(kinds).toEqual([
      ["@bob", "direct", "bob"],
      ["#team", "room", "#team"],
      ["~messages", "channel", "~messages"],
    ]);
    expect(model.conversations.get("~messages")?.older.state).toBe("none");
  });

  it("orders history by `at`, and expires typing by the time passed in", () => {
    const model = new ChatModel();
    model.apply([{ kind: "chat", ...message({ id: "b", content: "second", at: 2000 }) }], 0);
    model.mergeHistory([message({ id: "a", content: "first", at: 1000 }), message({ id: "c", content: "third", at: 3000 })]);
    expect(model.conversations.get("@bob")?.entries.map((e) => e.text)).toEqual(["first", "second", "third"]);

    model.apply([{ kind: "typing", conversation: "@bob", user: "Bob" }], 10_000);
    expect(model.typingUsers("@bob", 10_000 + TYPING_MS - 1)).toEqual(["bob"]);
    expect(model.nextTypingExpiry("@bob")).toBe(10_000 + TYPING_MS);
    expect(model.typingUsers("@bob", 10_000 + TYPING_MS)).toEqual([]);
    expect(model.nextTypingExpiry("@bob")).toBeNull();
  });

  it("takes unread counts from the core only", () => {
    const model = new ChatModel();
    model.apply([chat("one"), chat("two")]);
    expect(model.conversations.get("@bob")?.unread).toBe(0);
    model.apply([{ kind: "unread", conversation: "@bob", count: 7, mentions: 2 }]);
    expect(model.conversations.get("@bob")).toMatchObject({ unread: 7, mentions: 2 });
    // A zero count for an unknown conversation creates nothing.
    model.apply([{ kind: "unread", conversation: "@zed", count: 0, mentions: 0 }]);
    expect(model.conversations.has("@zed")).toBe(false);
  });
});
