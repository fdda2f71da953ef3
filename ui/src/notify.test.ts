// Notifications: which messages make one, one summary per flood or catch-up, mutes, focus,
// do-not-disturb; and the window's wiring (title total, mute button, the switcher, shortcuts).

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { neighbour, shortcutOf } from "./keys";
import { GAP_MS, HOLD_MS, Notifier, plainText, summarise, type Alert } from "./notify";
import { filterItems, type SwitcherItem } from "./components/switcher";
import { chat, el, message, roomChat, settle, start } from "./test/harness";

/** A notifier on a fake clock: `tick(ms)` runs the timers that are due. */
function notifier(focused = false) {
  let now = 0;
  let timers: { at: number; run: () => void; id: number }[] = [];
  let next = 1;
  const shown: Alert[] = [];
  const state = { focused };
  const n = new Notifier({
    show: (a) => shown.push(a),
    hasFocus: () => state.focused,
    now: () => now,
    schedule: (run, ms) => {
      const id = next++;
      timers.push({ at: now + ms, run, id });
      return id;
    },
    cancel: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  });
  n.setUser("alice");
  return {
    n,
    shown,
    state,
    pending: () => timers.length,
    tick(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.run();
    },
  };
}

beforeEach(() => localStorage.clear());

describe("Notifier", () => {
  it("a direct message while the window is not focused notifies with sender and text", () => {
    const t = notifier();
    t.n.observe([chat("hello there", "bob")]);
    expect(t.shown).toEqual([]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "bob", body: "hello there", conversation: "@bob" }]);
  });

  it("a mention in a room notifies, other room messages do not", () => {
    const t = notifier();
    t.n.observe([roomChat("team", "lunch?"), roomChat("team", "@alice look", "carol", { mentionsMe: true })]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "carol in #team", body: "@alice look", conversation: "#team" }]);
  });

  it("nothing while the window is focused", () => {
    const t = notifier(true);
    t.n.observe([chat("hi")]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
    expect(t.pending()).toBe(0);
  });

  it("focus coming back drops what was held", () => {
    const t = notifier();
    t.n.observe([chat("hi")]);
    t.state.focused = true;
    t.n.focused();
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
  });

  it("our own messages and raw channel lines never notify", () => {
    const t = notifier();
    t.n.observe([
      { kind: "chat", ...message({ content: "mine", mine: true, sender: "alice", conversation: "@bob" }) },
      { kind: "plain", id: "p1", conversation: "~messages", channel: "messages", text: "plain", receivedAt: "2026-11-24T10:00:00.000Z" },
    ]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
  });

  it("a message request notifies without the stranger's text", () => {
    const t = notifier();
    t.n.observe([{ kind: "chat", ...message({ content: "click https://evil.example now", sender: "spammer", request: true }) }]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "Message request from spammer", body: "Accept or block it in Redchat", conversation: "@spammer" }]);
  });

  it("a muted conversation never notifies, and the mute is remembered per user", () => {
    const t = notifier();
    t.n.setMuted("@bob", true);
    t.n.observe([chat("hi", "bob")]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
    const again = notifier();
    expect(again.n.isMuted("@bob")).toBe(true);
    again.n.setUser("carol");
    expect(again.n.isMuted("@bob")).toBe(false);
  });

  it("muting while a message is held drops it", () => {
    const t = notifier();
    t.n.observe([chat("hi", "bob")]);
    t.n.setMuted("@bob", true);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
  });

  it("do not disturb holds everything back, even what was already held", () => {
    const t = notifier();
    t.n.doNotDisturb = true;
    t.n.observe([chat("one")]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
    t.n.doNotDisturb = false;
    t.n.observe([chat("two")]);
    t.n.doNotDisturb = true;
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([]);
  });

  it("a catch-up makes one summary, never one per message", () => {
    const t = notifier();
    const batch: ipc.SessionEvent[] = Array.from({ length: 12 }, (_, i) => chat(`m${i}`, i % 2 ? "bob" : "carol"));
    t.n.observe([...batch, { kind: "caughtUp", count: 12 }]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "12 messages while you were away", body: "From carol, bob", conversation: null }]);
  });

  it("a flood makes at most one notification per gap", () => {
    const t = notifier();
    for (let i = 0; i < 100; i++) {
      t.n.observe([chat(`flood ${i}`, "mallory")]);
      t.tick(100);
    }
    // 10 s of flood: the first summary after HOLD_MS, then one per GAP_MS.
    t.tick(GAP_MS);
    expect(t.shown.length).toBeLessThanOrEqual(2);
    expect(t.shown[0]?.title).toBe("15 new messages");
    expect(t.shown[0]?.conversation).toBe("@mallory");
    const total = t.shown.reduce((sum, a) => sum + Number(/^(\d+)/u.exec(a.title)?.[1] ?? 1), 0);
    expect(total).toBe(100);
  });

  it("a hostile sender name and text reach the desktop as plain, short text", () => {
    const a = summarise([message({ sender: "bob\u202Egnp.exe", content: `<b>hi</b>\u0007\n\n${"x".repeat(500)}` })], false);
    expect(a.title).toBe("bob gnp.exe");
    expect(a.body.startsWith("<b>hi</b> xxx")).toBe(true);
    expect(Array.from(a.body).length).toBeLessThanOrEqual(180);
    expect(plainText("a\u200Bb")).toBe("a b");
  });

  it("a forged message under a contact's name notifies without its name's word or its text", () => {
    for (const partial of [{ trust: "invalid" as const }, { trust: "unsigned" as const }, { trust: "keyChanged" as const }, { lookalike: "bob" }, { senderIssue: "invisible characters" }]) {
      const a = summarise([message({ sender: "bob", content: "send me the password", ...partial })], false);
      expect(a.title).toBe("Unverified message claiming to be from bob");
      expect(a.body).not.toContain("password");
    }
  });

  it("messages read on another device meanwhile are not notified", () => {
    const t = notifier();
    t.n.observe([chat("hi", "bob"), chat("yo", "carol")]);
    t.n.observe([{ kind: "unread", conversation: "@bob", count: 0, mentions: 0 }]);
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "carol", body: "yo", conversation: "@carol" }]);
  });

  it("a flood holds a bounded number of messages and still counts them all", () => {
    const t = notifier();
    t.n.observe(Array.from({ length: 10_000 }, (_, i) => chat(`m${i}`, "mallory")));
    t.tick(HOLD_MS);
    expect(t.shown).toEqual([{ title: "10000 new messages", body: "From mallory", conversation: null }]);
  });

  it("a summary of many senders names three and counts the rest", () => {
    const held = ["a", "b", "c", "d", "e"].map((s) => message({ sender: s, content: "x" }));
    expect(summarise(held, false).body).toBe("From a, b, c and 2 more");
  });
});

describe("keyboard", () => {
  const key = (k: string, mods: Partial<KeyboardEvent> = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, isComposing: false, ...mods });

  it("maps the shortcuts", () => {
    expect(shortcutOf(key("k", { ctrlKey: true }))).toBe("switcher");
    expect(shortcutOf(key("K", { metaKey: true }))).toBe("switcher");
    expect(shortcutOf(key("k"))).toBeNull();
    expect(shortcutOf(key("ArrowUp", { altKey: true }))).toBe("previous");
    expect(shortcutOf(key("ArrowDown", { altKey: true }))).toBe("next");
    expect(shortcutOf(key("ArrowDown"))).toBeNull();
    expect(shortcutOf(key("Escape"))).toBe("close");
    expect(shortcutOf(key("k", { ctrlKey: true, isComposing: true }))).toBeNull();
  });

  it("walks the conversations with wrap-around", () => {
    expect(neighbour(["#a", "@b", "@c"], "@b", 1)).toBe("@c");
    expect(neighbour(["#a", "@b", "@c"], "@c", 1)).toBe("#a");
    expect(neighbour(["#a", "@b", "@c"], "#a", -1)).toBe("@c");
    expect(neighbour(["#a"], null, 1)).toBe("#a");
    expect(neighbour([], null, 1)).toBeNull();
  });

  it("the switcher puts prefix matches first", () => {
    const items: SwitcherItem[] = ["#team", "bob", "jimbob", "#bobs-room"].map((label) => ({ id: label.startsWith("#") ? label : `@${label}`, label, hint: "" }));
    expect(filterItems(items, "bob").map((i) => i.label)).toEqual(["bob", "#bobs-room", "jimbob"]);
    expect(filterItems(items, "#te").map((i) => i.label)).toEqual(["#team"]);
    expect(filterItems(items, "zzz")).toEqual([]);
  });
});

describe("the window", () => {
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
    clearMocks();
  });

  /** From here on timers are the test's: `run(ms)` lets `ms` pass (frames and promises too). */
  const fakeTime = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "requestAnimationFrame", "cancelAnimationFrame", "Date"] });
  const run = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  it("a direct message while unfocused asks the shell for a notification, once", async () => {
    const h = await start({}, { focused: false });
    fakeTime();
    h.push([chat("are you there?", "bob")]);
    await run(HOLD_MS - 100);
    expect(h.callsOf("notify")).toEqual([]);
    await run(100);
    expect(h.callsOf("notify")).toEqual([{ title: "bob", body: "are you there?", conversation: "@bob" }]);
  });

  it("the title's total leaves muted conversations out, and the mute button says so", async () => {
    const h = await start({}, { focused: false });
    fakeTime();
    h.push([chat("one", "bob"), { kind: "unread", conversation: "@bob", count: 1, mentions: 0 }, chat("two", "carol"), { kind: "unread", conversation: "@carol", count: 1, mentions: 0 }]);
    await run(20);
    expect(document.title).toBe("(2) Redchat");
    expect(h.callsOf("set_unread").at(-1)).toEqual({ total: 2 });
    // Open bob's and mute it.
    el(`li[data-conversation="@bob"]`).click();
    await run(20);
    const mute = el<HTMLButtonElement>("#mute-conversation");
    expect(mute.getAttribute("aria-pressed")).toBe("false");
    mute.click();
    await run(20);
    expect(mute.getAttribute("aria-pressed")).toBe("true");
    expect(mute.textContent).toBe("Unmute");
    expect(el(`li[data-conversation="@bob"]`).classList.contains("muted")).toBe(true);
    expect(document.title).toBe("(1) Redchat");
    h.push([chat("three", "bob")]);
    await run(GAP_MS + HOLD_MS);
    expect(h.callsOf("notify")).toEqual([{ title: "carol", body: "two", conversation: "@carol" }]);
  });

  it("the do-not-disturb button tells the shell and follows the tray", async () => {
    let shell: ((e: unknown) => void) | null = null;
    const h = await start({
      watch_shell: (_cmd, args) => {
        const channel = args.events as { onmessage: (e: unknown) => void };
        shell = (e) => channel.onmessage(e);
        return null;
      },
    });
    const dnd = el<HTMLButtonElement>("#dnd");
    dnd.click();
    await settle();
    expect(h.callsOf("set_do_not_disturb")).toEqual([{ on: true }]);
    expect(dnd.getAttribute("aria-pressed")).toBe("true");
    expect(shell).not.toBeNull();
    shell!({ kind: "doNotDisturb", on: false });
    expect(dnd.getAttribute("aria-pressed")).toBe("false");
    // Garbage from the channel changes nothing.
    shell!({ kind: "doNotDisturb", on: "yes" });
    expect(dnd.getAttribute("aria-pressed")).toBe("false");
    // A clicked notification opens its conversation.
    h.push([chat("hi", "bob"), chat("yo", "carol")]);
    await settle();
    shell!({ kind: "open", conversation: "@carol" });
    await settle();
    expect(el("#conversation-title").textContent).toBe("@carol");
    shell!({ kind: "open", conversation: "javascript:alert(1)" });
    await settle();
    expect(el("#conversation-title").textContent).toBe("@carol");
  });

  it("Ctrl+K opens the switcher, typing narrows it, Enter opens the conversation", async () => {
    const h = await start();
    h.push([chat("hi", "bob"), chat("yo", "carol"), roomChat("team", "hello")]);
    await settle();
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "k", ctrlKey: true, bubbles: true }));
    expect(el("#switcher").hidden).toBe(false);
    const input = el<HTMLInputElement>("#switcher-input");
    expect(document.activeElement).toBe(input);
    input.value = "car";
    input.dispatchEvent(new Event("input"));
    expect([...document.querySelectorAll<HTMLElement>(".switcher-item")].map((li) => li.dataset.id)).toEqual(["@carol"]);
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await settle();
    expect(el("#switcher").hidden).toBe(true);
    expect(el("#conversation-title").textContent).toBe("@carol");
  });

  it("Esc closes the switcher and puts focus back", async () => {
    await start();
    const compose = el<HTMLTextAreaElement>("#compose");
    compose.focus();
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "k", ctrlKey: true }));
    el<HTMLInputElement>("#switcher-input").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(el("#switcher").hidden).toBe(true);
    expect(document.activeElement).toBe(compose);
  });

  it("Alt+↓ and Alt+↑ move through the sidebar", async () => {
    const h = await start();
    h.push([chat("hi", "bob"), chat("yo", "carol"), roomChat("team", "hello")]);
    await settle();
    const order = [...document.querySelectorAll<HTMLElement>("li[data-conversation]")].map((li) => li.dataset.conversation);
    expect(order.length).toBe(3);
    el(`li[data-conversation="${order[1]}"]`).click();
    await settle();
    const title = () => el("#conversation-title").textContent;
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", altKey: true }));
    await settle();
    expect(title()).toBe(order[2]);
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowUp", altKey: true }));
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowUp", altKey: true }));
    await settle();
    expect(title()).toBe(order[0]);
    // Not behind Settings.
    el("#open-settings").click();
    await settle();
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", altKey: true }));
    await settle();
    expect(title()).toBe(order[0]);
  });

  it("preferences the shell kept win at start (WebKit may have lost its copy)", async () => {
    localStorage.setItem("redchat.theme", "light");
    await start({ load_prefs: () => ({ "redchat.theme": "dark", "redchat.muted.alice": '["@bob"]', "not.ours": "x" }) });
    expect(document.documentElement.getAttribute("data-theme")).toBe("dark");
    expect(localStorage.getItem("redchat.muted.alice")).toBe('["@bob"]');
    expect(localStorage.getItem("not.ours")).toBeNull();
    expect(el("#mute-conversation").hidden).toBe(true);
    document.documentElement.removeAttribute("data-theme");
  });

  it("Esc closes Settings once connected", async () => {
    await start();
    el("#open-settings").click();
    await settle();
    const overlay = el("#compose").closest(".app")?.querySelector<HTMLElement>(".overlay:not(#switcher)");
    expect(overlay?.hidden).toBe(false);
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    expect(overlay?.hidden).toBe(true);
  });
});
