// Signed identities as the window shows them: each message's trust state, "(you)" only for
// messages signed by our key, suspicious and lookalike names, key changes, persistent warnings.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import * as ipc from "./ipc";
import { el, type Harness, message, roomChat, settle, start, text } from "./test/harness";
import { visibleName } from "./trust";

function chatFrom(sender: string, content: string, extra: Partial<ipc.ChatMessage> = {}): ipc.SessionEvent {
  return { kind: "chat", ...message({ content, sender, ...extra }) };
}

function row(id: string): HTMLElement {
  return el(`#messages .entry[data-id='${id}']`);
}

describe("trust", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
  });

  it("marks every message with its trust state, loudly when it is not authentic", async () => {
    harness = await start();
    harness.push([
      roomChat("team", "checked", "bob", { id: "v", trust: "verified" }),
      roomChat("team", "normal", "bob", { id: "s", trust: "signed" }),
      roomChat("team", "from the old client", "carol", { id: "u", trust: "unsigned", legacy: true }),
      roomChat("team", "pay me", "bob", { id: "i", trust: "invalid" }),
      roomChat("team", "new laptop", "bob", { id: "k", trust: "keyChanged" }),
    ]);
    await settle();
    expect(text("#conversation-title")).toBe("#team");
    for (const [id, trust] of [["v", "verified"], ["s", "signed"], ["u", "unsigned"], ["i", "invalid"], ["k", "keyChanged"]] as const) {
      expect(row(id).dataset.trust).toBe(trust);
      expect(row(id).classList.contains(`trust-${trust}`)).toBe(true);
      expect(document.querySelector(`.message[data-trust="${trust}"]`)).toBe(row(id));
    }
    expect(text("#messages [data-id='v'] .trust-mark.verified")).toBe("✓");
    expect(row("s").querySelector(".trust-warning, .trust-tag")).toBeNull();
    // Unsigned: a calm tag, not a warning.
    expect(text("#messages [data-id='u'] .trust-tag")).toBe("unsigned");
    expect(row("u").querySelector(".trust-warning")).toBeNull();
    expect(row("u").classList.contains("not-authentic")).toBe(false);
    // Invalid and keyChanged: a warning block, never a normal message.
    expect(row("i").classList.contains("not-authentic")).toBe(true);
    expect(text("#messages [data-id='i'] .trust-warning")).toContain("Forged or altered: this signature does not verify");
    expect(row("k").classList.contains("not-authentic")).toBe(true);
    expect(text("#messages [data-id='k'] .trust-warning")).toContain("Signed with a new key — not the one you know for bob");
    for (const id of ["v", "s", "u", "i", "k"]) expect(row(id).classList.contains("mine")).toBe(false);
  });

  it("never shows (you) for a message not signed by our key, and says it only claims to be us", async () => {
    harness = await start();
    harness.push([
      roomChat("team", "I am alice", "alice", { id: "fake", trust: "unsigned", mine: false }),
      roomChat("team", "me too", "Alice", { id: "forged", trust: "keyChanged", mine: false }),
      roomChat("team", "really me", "alice", { id: "real", trust: "signed", mine: true }),
    ]);
    await settle();
    expect(text("#messages [data-id='fake'] .from")).toBe("alice — claims to be you — not signed by your key");
    expect(row("fake").classList.contains("mine")).toBe(false);
    expect(row("fake").classList.contains("claims-me")).toBe(true);
    expect(text("#messages [data-id='forged'] .trust-warning")).toContain("not yours");
    expect(text("#messages [data-id='real'] .from")).toBe("alice (you)");
    const you = [...document.querySelectorAll("#messages .entry")].filter((e) => e.textContent?.includes("(you)"));
    expect(you).toEqual([row("real")]);
    // A membership line naming us but not signed by our key is no "You joined".
    harness.push([
      { kind: "membership", id: "j1", conversation: "#team", room: "team", user: "alice", action: "join", at: Date.now(), receivedAt: new Date().toISOString(), trust: "unsigned" },
      { kind: "membership", id: "j2", conversation: "#team", room: "team", user: "dave", action: "leave", at: Date.now(), receivedAt: new Date().toISOString(), trust: "invalid" },
    ]);
    await settle();
    expect(text("#messages [data-id='j1'] .text")).toBe("alice (claims to be you — not signed by your key) joined");
    expect(text("#messages [data-id='j2'] .text")).toBe("dave left — ⚠ forged: the signature does not verify");
    expect(row("j2").dataset.trust).toBe("invalid");
  });

  it("shows a dishonest sender name as suspicious, with its hidden characters visible, and flags lookalikes", async () => {
    harness = await start();
    const sneaky = "bob\u202Egnp.exe";
    harness.push([
      roomChat("team", "hi", sneaky, { id: "x", trust: "unsigned", senderIssue: "a username cannot contain text-direction controls (U+202E)" }),
      roomChat("team", "it's me", "b0b", { id: "y", trust: "signed", lookalike: "bob" }),
    ]);
    await settle();
    const from = el("#messages [data-id='x'] .from");
    expect(from.classList.contains("suspicious")).toBe(true);
    expect(from.textContent).toBe("⚠ bob⟨U+202E⟩gnp.exe");
    expect(from.textContent).not.toContain("\u202E");
    expect(text("#messages [data-id='x'] .sender-issue")).toContain("text-direction controls (U+202E)");
    expect(text("#messages [data-id='y'] .lookalike")).toBe("⚠ looks like bob");
    expect(visibleName("al\u200Bice")).toBe("al⟨U+200B⟩ice");
    expect(visibleName("plain")).toBe("plain");
  });

  it("announces a key change in the conversation with the time", async () => {
    harness = await start();
    harness.push([chatFrom("bob", "hello", { id: "b1" })]);
    await settle();
    harness.push([{ kind: "keyChanged", conversation: "@bob", user: "bob" }, chatFrom("bob", "new phone who dis", { id: "b2", trust: "keyChanged" })]);
    await settle();
    const line = el("#messages .entry.system.key-changed");
    expect(line.querySelector(".text")?.textContent).toBe("bob's safety number has changed — the new key is not trusted until you accept it");
    expect(line.querySelector("time")?.getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/u);
    expect(line.dataset.user).toBe("bob");
    // The line comes before the message signed with the new key.
    const ids = [...document.querySelectorAll<HTMLElement>("#messages .entry")].map((e) => (e.classList.contains("key-changed") ? "key" : e.dataset.id));
    expect(ids).toEqual(["b1", "key", "b2"]);
  });

  it("shows a key change with the first message of a conversation, and announcements alone create nothing", async () => {
    harness = await start();
    harness.push([{ kind: "keyChanged", conversation: "@ghost", user: "ghost" }]);
    harness.push([{ kind: "keyChanged", conversation: "@carol", user: "carol" }, chatFrom("carol", "hi again", { id: "c1", trust: "keyChanged" })]);
    await settle();
    expect(harness.app.model.conversations.has("@ghost")).toBe(false);
    expect(text("#conversation-title")).toBe("@carol");
    const kinds = [...document.querySelectorAll<HTMLElement>("#messages .entry")].map((e) => (e.classList.contains("key-changed") ? "key" : e.dataset.id));
    expect(kinds).toEqual(["key", "c1"]);
  });

  it("keeps stream and auth notices as persistent warnings with their code until dismissed", async () => {
    harness = await start();
    harness.push([
      { kind: "notice", code: "stream_forbidden", text: "No permission to read your inbox stream (ACL)." },
      { kind: "notice", code: "overflow", text: "Too much arrived at once: 12 messages were counted and left out." },
    ]);
    await settle();
    const warning = el("#warnings .warning[data-code='stream_forbidden']");
    expect(el("#warnings").hidden).toBe(false);
    expect(warning.querySelector(".warning-text")?.textContent).toBe("No permission to read your inbox stream (ACL).");
    // Not a persistent state: an ordinary notice banner, with its code.
    expect(document.querySelector("#warnings [data-code='overflow']")).toBeNull();
    expect(text("#banner .banner[data-code='overflow'] .banner-text")).toContain("left out");
    // Still there after more events; a repeat of the code updates it (one element per code).
    harness.push([chatFrom("bob", "hi"), { kind: "notice", code: "stream_forbidden", text: "Still no permission." }, { kind: "notice", code: "auth_refused", text: "The server refuses the password." }]);
    await settle();
    expect(document.querySelectorAll("#warnings .warning[data-code='stream_forbidden']").length).toBe(1);
    expect(text("#warnings [data-code='stream_forbidden'] .warning-text")).toBe("Still no permission.");
    expect(el("#warnings [data-code='stream_forbidden']").dataset.count).toBe("2");
    expect(document.querySelector("#warnings [data-code='auth_refused']")).not.toBeNull();
    el<HTMLButtonElement>("#warnings button[data-dismiss='stream_forbidden']").click();
    expect(document.querySelector("#warnings [data-code='stream_forbidden']")).toBeNull();
    el<HTMLButtonElement>("#warnings button[data-dismiss='auth_refused']").click();
    expect(el("#warnings").hidden).toBe(true);
  });

  it("keeps notice banners bounded whatever arrives", async () => {
    harness = await start();
    harness.push(Array.from({ length: 1000 }, (_, i): ipc.SessionEvent => ({ kind: "notice", code: i % 2 ? "room_list_garbage" : "", text: `garbage entry ${i}` })));
    harness.push(Array.from({ length: 1000 }, (_, i): ipc.SessionEvent => ({ kind: "notice", code: `stream_made_up_${i}`, text: "x" })));
    await settle();
    expect(document.querySelectorAll("#banner .banner").length).toBeLessThanOrEqual(6);
    expect(text("#banner [data-code='room_list_garbage'] .banner-text")).toBe("garbage entry 999");
    expect(document.querySelectorAll("#warnings .warning").length).toBeLessThanOrEqual(12);
  });

  it("keeps the new error codes", () => {
    expect(ipc.toIpcError({ code: "identity", message: "m" }).code).toBe("identity");
    expect(ipc.toIpcError({ code: "already_running", message: "m" }).code).toBe("already_running");
  });
});
