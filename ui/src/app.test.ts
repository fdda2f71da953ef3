import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import * as ipc from "./ipc";
import { chat, el, type Harness, outgoing, profile, sentMessage, settle, start, status, text, typeAndSend } from "./test/harness";

describe("App", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
  });

  it("connects with the saved profile and shows the status", async () => {
    harness = await start();
    expect(harness.calls.map((c) => c.cmd)).toContain("connect");
    // The start-up connect keeps trying if the server is not reachable yet.
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ username: "alice", keepTrying: true });
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
    harness.push([status({ state: "reconnecting", reason: "connection lost; reconnecting", attempt: 1 })]);
    await settle();
    expect(text("#status")).toBe("Reconnecting… attempt 1 — connection lost; reconnecting");
    expect(document.querySelector("#status")?.getAttribute("data-phase")).toBe("reconnecting");
    harness.push([status({ state: "connected" })]);
    await settle();
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
  });

  it("names the deployment and its nodes, and follows a Sentinel failover to the new master", async () => {
    harness = await start();
    harness.push([status({ state: "connected" })]);
    await settle();
    expect(text("#topology")).toBe("Standalone · 1 node");
    expect(el("#topology").hidden).toBe(true);
    expect(el("#status").title).toContain("Standalone · 1 node");
    harness.push([status({ state: "connected", addr: "10.0.0.1:6379", topology: "sentinel", nodes: 2 })]);
    await settle();
    expect(text("#topology")).toBe("Sentinel · 2 nodes");
    expect(el("#topology").dataset.topology).toBe("sentinel");
    harness.push([status({ state: "reconnecting", reason: "the sentinels moved the master to 10.0.0.2:6379", attempt: 1, topology: "sentinel", nodes: 2 })]);
    await settle();
    expect(text("#status")).toContain("the sentinels moved the master");
    expect(el("#topology").hidden).toBe(false);
    harness.push([status({ state: "connected", addr: "10.0.0.2:6379", topology: "sentinel", nodes: 1 })]);
    await settle();
    expect(text("#status")).toBe("Connected as alice · 10.0.0.2:6379");
    expect(text("#topology")).toBe("Sentinel · 1 node");
    harness.push([status({ state: "disconnected" })]);
    await settle();
    expect(el("#topology").hidden).toBe(true);
  });

  it("a failed connect says why and opens settings with the error", async () => {
    harness = await start({
      connect: () => {
        throw { code: "auth", message: "authentication failed: the server refused the username/password" };
      },
    });
    expect(text("#status")).toContain("Disconnected — authentication failed");
    expect(document.querySelector(".overlay")?.hasAttribute("hidden")).toBe(false);
    expect(text("#settings-error")).toContain("authentication failed");
    expect(document.querySelector("#settings-error")?.getAttribute("data-code")).toBe("auth");
  });

  it("first run opens settings and validates the connection string inline", async () => {
    harness = await start({
      load_profile: () => ({ ...profile, profile: { ...profile.profile, username: "" } }),
      check_connection: (_c, args) => {
        if (String(args.connection).includes("99999")) throw { code: "invalid_settings", message: "invalid connection string: port \"99999\" must be a number from 1 to 65535 (at character 11)" };
        return { addr: "h:6380", tls: true, user: null, hasPassword: true, db: 0, notes: ["ignored option \"foo\""] };
      },
    });
    expect(harness.calls.map((c) => c.cmd)).not.toContain("connect");
    const input = document.querySelector<HTMLInputElement>("#connection");
    if (!input) throw new Error("no connection field");
    input.value = "redis://h:99999";
    input.dispatchEvent(new Event("input"));
    await settle();
    expect(text("#connection-hint")).toContain("at character 11");
    input.value = "h:6380,password=x,ssl=True,foo=1";
    input.dispatchEvent(new Event("input"));
    await settle();
    expect(text("#connection-hint")).toBe("TLS to h:6380, password given · ignored option \"foo\"");
  });

  it("sends @user messages and shows them as mine", async () => {
    harness = await start();
    await typeAndSend("@Bob hi there");
    const send = harness.callsOf("send")[0];
    // The core reads the address (and keeps the @bob prefix in the content).
    expect(send).toEqual({ conversation: null, text: "@Bob hi there" });
    const mine = el("#messages .entry.mine");
    expect(mine.textContent).toContain("@Bob hi there");
    expect(mine.textContent).toContain("alice (you)");
    expect(mine.classList.contains("queued")).toBe(true);
    expect(text("#conversation-title")).toBe("@bob");
    expect(el<HTMLTextAreaElement>("#compose").value).toBe("");
  });

  it("tells inline that the recipient is not active when a live-only message reached nobody", async () => {
    const m = sentMessage("carol", "hello?", "m1");
    harness = await start({ send: () => m });
    await typeAndSend("@carol hello?");
    harness.push([outgoing(m, "notDelivered")]);
    await settle();
    expect(text("#messages .entry.notice")).toBe("carol is not active: the message was not delivered.");
    expect(text("#messages .entry.mine .delivery")).toBe("Not delivered — carol is not active");
    // A repeated event for the same state adds no second notice.
    harness.push([outgoing(m, "notDelivered")]);
    await settle();
    expect(document.querySelectorAll("#messages .entry.notice").length).toBe(1);
  });

  it("keeps the typed line and shows the error when the message cannot even be queued", async () => {
    harness = await start({
      send: () => {
        throw { code: "storage", message: "could not write the outbox: disk full" };
      },
    });
    await typeAndSend("@bob are you there");
    expect(document.querySelector("#messages .entry.mine")).toBeNull();
    expect(text("#compose-error")).toBe("could not write the outbox: disk full");
    expect(el<HTMLTextAreaElement>("#compose").value).toBe("@bob are you there");
    await typeAndSend("no recipient here");
    // The open conversation is bob's now, so this goes to bob.
    expect(harness.callsOf("send").at(-1)).toEqual({ conversation: "@bob", text: "no recipient here" });
  });

  it("refuses a line without a recipient when no conversation is open", async () => {
    harness = await start();
    await typeAndSend("hello");
    expect(text("#compose-error")).toBe('start with @name or #room, e.g. "@bob hello"');
    expect(document.querySelector<HTMLTextAreaElement>("#compose")?.value).toBe("hello");
    expect(harness.callsOf("send")).toEqual([]);
  });

  it("renders hostile remote text as text, never as markup", async () => {
    harness = await start();
    const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    harness.push([
      chat(hostile, "<b>mallory</b>"),
      { kind: "plain", id: "p1", conversation: "~messages", channel: "messages", text: "<i>plain</i>", receivedAt: "2026-11-24T10:00:00Z" },
      { kind: "membership", id: "j1", conversation: "#team", room: "team", user: "<u>eve</u>", action: "join", at: 1, receivedAt: "2026-11-24T10:00:00Z", trust: "signed" },
      { kind: "who", users: [{ user: "<s>trudy</s>", online: true, lastSeen: null }] },
    ]);
    await settle();
    document.querySelector<HTMLElement>("#conversations li[data-key='<b>mallory</b>']")?.click();
    const list = document.querySelector("#messages");
    expect(text("#conversation-title")).toBe("@<b>mallory</b>");
    expect(document.querySelector("#app-root img, .app img, .app script, .app b, .app i, .app u, .app s")).toBeNull();
    const row = list?.querySelector(".entry .text");
    expect(row?.textContent).toBe(hostile);
    expect(document.body.innerHTML).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(text(".sidebar")).toContain("<b>mallory</b>");
    expect(text("#who")).toContain("<s>trudy</s>");
    document.querySelector<HTMLElement>("#conversations li[data-conversation='#team']")?.click();
    expect(text("#messages .entry.system .text")).toBe("<u>eve</u> joined");
    expect(document.querySelector(".app u, .app s")).toBeNull();
  });

  it("groups incoming messages by their conversation, shows the core's unread count and de-duplicates by id", async () => {
    harness = await start();
    harness.push([
      chat("one", "bob", "id-1"),
      chat("two", "carol", "id-2"),
      chat("one again", "bob", "id-1"),
      { kind: "unread", conversation: "@bob", count: 1, mentions: 0 },
    ]);
    await settle();
    const titles = [...document.querySelectorAll("#directs .title")].map((e) => e.textContent);
    expect(titles).toEqual(["carol", "bob"]);
    // Nothing was open: the most recent conversation (carol) opens and is marked read; bob's
    // row shows the core's count, and the duplicate of id-1 is not shown again.
    expect(text("#conversation-title")).toBe("@carol");
    expect(harness.callsOf("mark_read")).toEqual([{ conversation: "@carol" }]);
    // The old data-key selector still finds a direct conversation by the peer's name.
    expect(text("#conversations li[data-key='bob'] .unread")).toBe("1");
    expect(el("#conversations li[data-key='bob']").dataset.conversation).toBe("@bob");
    document.querySelector<HTMLElement>("#conversations li[data-conversation='@bob']")?.click();
    expect(document.querySelectorAll("#messages .entry").length).toBe(1);
    expect(harness.callsOf("mark_read").at(-1)).toEqual({ conversation: "@bob" });
    // Open and focused: no badge for it, whatever the core said last.
    expect(el("#conversations li[data-key='bob'] .unread").hidden).toBe(true);
  });

  it("shows unreadable payloads as an entry with a safe preview", async () => {
    harness = await start();
    harness.push([{ kind: "unreadable", id: "u1", conversation: "~messages", channel: "messages", reason: "binary data (not UTF-8 text)", preview: "��·A", size: 4, receivedAt: "2026-11-24T10:00:00Z" }]);
    await settle();
    expect(text("#messages .entry.unreadable .detail")).toBe("Unreadable message (binary data (not UTF-8 text), 4 bytes)");
  });
});

describe("toIpcError", () => {
  it("keeps known codes and maps unknown ones to internal", () => {
    expect(ipc.toIpcError({ code: "tls", message: "m" }).code).toBe("tls");
    expect(ipc.toIpcError({ code: "storage", message: "m" }).code).toBe("storage");
    expect(ipc.toIpcError({ code: "brand_new", message: "m" }).code).toBe("internal");
    expect(ipc.toIpcError("boom")).toMatchObject({ code: "internal", message: "boom" });
  });
});

describe("decodeBatch", () => {
  it("reads the shell's padded raw JSON bytes and passes arrays through", () => {
    const events = [{ kind: "plain", id: "p", channel: "c", text: "hé", receivedAt: "t" }];
    const bytes = new TextEncoder().encode(JSON.stringify(events) + " ".repeat(1000));
    expect(ipc.decodeBatch(bytes.buffer)).toEqual(events);
    expect(ipc.decodeBatch(events as ipc.SessionEvent[])).toBe(events);
  });
});
