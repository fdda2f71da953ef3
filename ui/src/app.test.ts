import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { App } from "./app";
import * as ipc from "./ipc";

type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

interface Harness {
  app: App;
  calls: { cmd: string; args: Record<string, unknown> }[];
  push(events: ipc.SessionEvent[]): void;
}

const profile: ipc.ProfileView = {
  profile: { connection: "redis://127.0.0.1:6379", username: "alice", namespace: "" },
  passwordSaved: false,
  keychainProblem: null,
};

const connected: ipc.Connected = {
  user: "alice",
  inbox: "alice",
  addr: "127.0.0.1:6379",
  tls: false,
  notes: [],
  password: "none",
  keychainProblem: null,
};

function chat(content: string, sender = "bob", id: string = crypto.randomUUID()): ipc.SessionEvent {
  return {
    kind: "chat",
    id,
    sender,
    to: "alice",
    content,
    sentAt: null,
    receivedAt: "2026-11-24T10:00:00.000Z",
    channel: "alice",
    legacy: false,
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

async function start(overrides: Partial<Record<string, Handler>> = {}): Promise<Harness> {
  const calls: Harness["calls"] = [];
  let channelId: number | null = null;
  let index = 0;
  const handlers: Record<string, Handler> = {
    load_profile: () => profile,
    attach: () => null,
    check_connection: () => ({ addr: "127.0.0.1:6379", tls: false, user: null, hasPassword: false, db: 0, notes: [] }),
    connect: () => connected,
    send: (_cmd, args) => ({
      message: { id: crypto.randomUUID(), sender: "alice", to: args.to, content: `@${String(args.to)} ${String(args.text)}`, sentAt: null, receivedAt: new Date().toISOString(), channel: String(args.to), legacy: false },
      receivers: 1,
    }),
    disconnect: () => null,
    ack_events: () => null,
    ...overrides,
  };
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    if (cmd === "connect" || cmd === "attach") {
      // mockIPC hands over the Channel object itself (the real IPC sends "__CHANNEL__:<id>").
      channelId = (a.events as { id: number }).id;
      index = 0;
    }
    const handler = handlers[cmd];
    if (!handler) throw new Error(`unexpected command ${cmd}`);
    return handler(cmd, a);
  });
  const app = new App(ipc);
  document.body.append(app.el);
  await app.start();
  await settle();
  return {
    app,
    calls,
    push(events) {
      if (channelId === null) throw new Error("no channel yet");
      const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } }).__TAURI_INTERNALS__;
      internals.runCallback(channelId, { index: index++, message: events });
    },
  };
}

function text(selector: string): string {
  return document.querySelector(selector)?.textContent ?? "";
}

async function typeAndSend(line: string): Promise<void> {
  const input = document.querySelector<HTMLTextAreaElement>("#compose");
  if (!input) throw new Error("no composer");
  input.value = line;
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  await settle();
}

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
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
    harness.push([{ kind: "status", state: "reconnecting", user: "alice", addr: "127.0.0.1:6379", reason: "connection lost; reconnecting" }]);
    await settle();
    expect(text("#status")).toContain("Reconnecting to 127.0.0.1:6379 — connection lost");
    expect(document.querySelector("#status")?.getAttribute("data-phase")).toBe("reconnecting");
    harness.push([{ kind: "status", state: "connected", user: "alice", addr: "127.0.0.1:6379", reason: null }]);
    await settle();
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
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
    const send = harness.calls.find((c) => c.cmd === "send");
    expect(send?.args).toEqual({ to: "bob", text: "hi there" });
    const mine = document.querySelector("#messages .entry.mine");
    expect(mine?.textContent).toContain("@bob hi there");
    expect(mine?.textContent).toContain("alice (you)");
    expect(mine?.classList.contains("delivered")).toBe(true);
    expect(text("#conversation-title")).toBe("@bob");
  });

  it("tells inline that the recipient is not active when nobody received it", async () => {
    harness = await start({
      send: (_c, args) => ({
        message: { id: "m1", sender: "alice", to: args.to, content: "@carol hello?", sentAt: null, receivedAt: new Date().toISOString(), channel: "carol", legacy: false },
        receivers: 0,
      }),
    });
    await typeAndSend("@carol hello?");
    expect(text("#messages .entry.notice")).toBe("carol is not active: the message was not delivered.");
    expect(document.querySelector("#messages .entry.mine .delivery")?.textContent).toBe("not delivered");
  });

  it("keeps the typed line and shows the error when sending fails", async () => {
    harness = await start({
      send: () => {
        throw { code: "not_connected", message: "not connected" };
      },
    });
    await typeAndSend("@bob are you there");
    expect(document.querySelector("#messages .entry.mine.failed")).not.toBeNull();
    expect(text("#compose-error")).toBe("not connected");
    await typeAndSend("no recipient here");
    // The open conversation is bob's now, so this goes to bob; clear it and test the rule.
    expect(harness.calls.filter((c) => c.cmd === "send").at(-1)?.args).toEqual({ to: "bob", text: "no recipient here" });
  });

  it("refuses a line without a recipient when no conversation is open", async () => {
    harness = await start();
    await typeAndSend("hello");
    expect(text("#compose-error")).toBe('start with @name, e.g. "@bob hello"');
    expect(document.querySelector<HTMLTextAreaElement>("#compose")?.value).toBe("hello");
    expect(harness.calls.map((c) => c.cmd)).not.toContain("send");
  });

  it("renders hostile remote text as text, never as markup", async () => {
    harness = await start();
    const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    harness.push([chat(hostile, "<b>mallory</b>"), { kind: "plain", id: "p1", channel: "alice", text: "<i>plain</i>", receivedAt: "2026-11-24T10:00:00Z" }]);
    await settle();
    document.querySelector<HTMLElement>("#conversations li[data-key='<b>mallory</b>']")?.click();
    const list = document.querySelector("#messages");
    expect(text("#conversation-title")).toBe("@<b>mallory</b>");
    expect(document.querySelector("#app-root img, .app img, .app script, .app b, .app i")).toBeNull();
    const row = list?.querySelector(".entry .text");
    expect(row?.textContent).toBe(hostile);
    expect(document.body.innerHTML).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(text(".sidebar")).toContain("@<b>mallory</b>");
  });

  it("groups incoming messages by sender, counts unread and de-duplicates by id", async () => {
    harness = await start();
    harness.push([chat("one", "bob", "id-1"), chat("two", "carol", "id-2"), chat("one again", "bob", "id-1")]);
    await settle();
    const titles = [...document.querySelectorAll("#conversations .title")].map((e) => e.textContent);
    expect(titles).toEqual(["@carol", "@bob"]);
    // Nothing was open: the most recent conversation (carol) opens; bob's counts 1 unread,
    // and the duplicate of id-1 is not shown or counted again.
    expect(text("#conversation-title")).toBe("@carol");
    expect(text("#conversations li[data-key='bob'] .unread")).toBe("1");
    document.querySelector<HTMLElement>("#conversations li[data-key='bob']")?.click();
    expect(document.querySelectorAll("#messages .entry").length).toBe(1);
    expect(document.querySelector<HTMLElement>("#conversations li[data-key='bob'] .unread")?.hidden).toBe(true);
  });

  it("shows unreadable payloads as an entry with a safe preview", async () => {
    harness = await start();
    harness.push([{ kind: "unreadable", id: "u1", channel: "alice", reason: "binary data (not UTF-8 text)", preview: "��·A", size: 4, receivedAt: "2026-11-24T10:00:00Z" }]);
    await settle();
    expect(text("#messages .entry.unreadable .detail")).toBe("Unreadable message (binary data (not UTF-8 text), 4 bytes)");
  });
});

describe("toIpcError", () => {
  it("keeps known codes and maps unknown ones to internal", () => {
    expect(ipc.toIpcError({ code: "tls", message: "m" }).code).toBe("tls");
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
