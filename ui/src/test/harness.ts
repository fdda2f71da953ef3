// The App against a mocked backend (@tauri-apps/api/mocks): every IPC call is recorded, and
// session events are pushed through the real Channel the app handed to connect/attach.

import { mockIPC } from "@tauri-apps/api/mocks";
import { App, type AppOptions } from "../app";
import * as ipc from "../ipc";

export type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

export interface Harness {
  app: App;
  calls: { cmd: string; args: Record<string, unknown> }[];
  push(events: ipc.SessionEvent[]): void;
  /** Calls of `cmd`, in order. */
  callsOf(cmd: string): Record<string, unknown>[];
}

export const profile: ipc.ProfileView = {
  profile: { connection: "redis://127.0.0.1:6379", username: "alice", namespace: "", delivery: "durable", sharePresence: true, tlsCa: null, tlsCert: null, tlsKey: null },
  passwordSaved: false,
  keychainProblem: null,
};

/** A doctor's report for the harness profile; `problems` empty unless given. */
export function doctorReport(partial: Partial<ipc.DoctorReport> = {}): ipc.DoctorReport {
  return {
    connection: "redis://127.0.0.1:6379",
    host: "127.0.0.1",
    port: 6379,
    tls: false,
    tlsVerification: "none (plain TCP)",
    user: "default",
    passwordSet: false,
    database: 0,
    redchatUser: "alice",
    connected: true,
    serverVersion: "7.2.4",
    flavour: "redis",
    resp3: true,
    cluster: false,
    latencyMs: 1,
    commandsCheckedWith: "ACL DRYRUN",
    commands: [{ command: "PUBLISH", purpose: "send messages", allowed: true }],
    notes: [],
    problems: [],
    text: "Redchat doctor\nserver: 127.0.0.1:6379 (plain TCP)\nconnected: yes\n",
    ...partial,
  };
}

export const connected: ipc.Connected = {
  user: "alice",
  inbox: "alice",
  addr: "127.0.0.1:6379",
  tls: false,
  notes: [],
  password: "none",
  keychainProblem: null,
  delivery: "durable",
  online: true,
  sharePresence: true,
};

/** A chat message; by default from bob to alice, in conversation `@<sender>`. */
export function message(partial: Partial<ipc.ChatMessage> & { content: string }): ipc.ChatMessage {
  const sender = partial.sender ?? "bob";
  const sentAt = partial.sentAt ?? null;
  const receivedAt = partial.receivedAt ?? "2026-11-24T10:00:00.000Z";
  return {
    id: crypto.randomUUID(),
    sender,
    to: "alice",
    sentAt,
    receivedAt,
    channel: "alice",
    legacy: false,
    durable: true,
    conversation: `@${sender.toLowerCase()}`,
    room: null,
    mine: false,
    mentionsMe: false,
    at: Date.parse(sentAt ?? receivedAt),
    trust: "signed",
    request: false,
    ...partial,
  };
}

export function chat(content: string, sender = "bob", id: string = crypto.randomUUID()): ipc.SessionEvent {
  return { kind: "chat", ...message({ content, sender, id }) };
}

/** A message in room `#<room>` from `sender`. */
export function roomChat(room: string, content: string, sender = "bob", extra: Partial<ipc.ChatMessage> = {}): ipc.SessionEvent {
  return { kind: "chat", ...message({ content, sender, conversation: `#${room}`, room, to: null, channel: `room:${room}`, ...extra }) };
}

/**
 * A message we sent in `conversation` (`@bob`, `#team`, or a bare name meaning `@name`), as
 * the backend returns it from send.
 */
export function sentMessage(conversation: string, text: string, id: string = crypto.randomUUID()): ipc.ChatMessage {
  const id_ = /^[@#~]/u.test(conversation) ? conversation : `@${conversation}`;
  const now = new Date().toISOString();
  return message({
    id,
    sender: "alice",
    to: id_.startsWith("@") ? id_.slice(1) : null,
    // As the core does: a direct message's content keeps the `@bob ` prefix.
    content: id_.startsWith("@") && !text.startsWith("@") ? `${id_} ${text}` : text,
    channel: id_.slice(1),
    sentAt: now,
    receivedAt: now,
    conversation: id_,
    room: id_.startsWith("#") ? id_.slice(1) : null,
    mine: true,
    at: Date.parse(now),
  });
}

/** What the mocked `send` returns: the conversation given, else the `@name` / `#room` the text starts with. */
export function sendReply(args: Record<string, unknown>): ipc.ChatMessage {
  const text = String(args.text);
  if (typeof args.conversation === "string") return sentMessage(args.conversation, text);
  const match = /^([@#]\S+)\s+([\s\S]*)$/u.exec(text.trim());
  if (!match?.[1]) throw { code: "invalid_message", message: "start with @name or #room" };
  const target = match[1].toLowerCase();
  return sentMessage(target, target.startsWith("@") ? text.trim() : (match[2] ?? ""));
}

export function outgoing(m: ipc.ChatMessage, state: ipc.OutgoingState, reason: string | null = null): ipc.SessionEvent {
  return { kind: "outgoing", message: m, state, receivers: state === "delivered" ? 1 : state === "queued" || state === "failed" ? null : 0, reason };
}

export function status(partial: Partial<ipc.Status> & { state: ipc.ConnectionState }): ipc.SessionEvent {
  return {
    kind: "status",
    user: "alice",
    addr: "127.0.0.1:6379",
    reason: null,
    attempt: 0,
    retryInMs: null,
    delivery: "durable",
    queued: 0,
    topology: "standalone",
    nodes: 1,
    ...partial,
  };
}

/** Lets pending promises, timers of 0 ms and the next animation frame (sidebar renders) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
}

/** A promise to hand out from a handler and settle from the test. */
export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface StartOptions extends AppOptions {
  /** Whether the window has focus (default: yes). */
  focused?: boolean;
}

export async function start(overrides: Partial<Record<string, Handler>> = {}, options: StartOptions = {}): Promise<Harness> {
  const calls: Harness["calls"] = [];
  let channelId: number | null = null;
  let index = 0;
  const handlers: Record<string, Handler> = {
    load_profile: () => profile,
    attach: () => null,
    check_connection: () => ({ addr: "127.0.0.1:6379", tls: false, user: null, hasPassword: false, db: 0, notes: [] }),
    connect: () => connected,
    send: (_cmd, args) => sendReply(args),
    history: () => ({ messages: [], more: null }),
    join: (_cmd, args) => {
      const name = String(args.name).toLowerCase();
      return /^[#~]/u.test(name) ? name : `#${name}`;
    },
    leave: () => null,
    mark_read: () => null,
    typing: () => null,
    members: () => ({ members: [], unreadable: 0 }),
    who: () => [],
    retry_message: () => null,
    retry_now: () => null,
    disconnect: () => null,
    ack_events: () => null,
    doctor: () => doctorReport(),
    pick_file: () => null,
    open_logs_folder: () => "/home/u/.local/share/dev.redchat.desktop/logs",
    set_unread: () => null,
    notify: () => "shown",
    set_do_not_disturb: () => null,
    watch_shell: () => null,
    open_link: () => null,
    load_prefs: () => ({}),
    save_pref: () => null,
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
  const focused = options.focused ?? true;
  const app = new App(ipc, { hasFocus: () => focused, ...options });
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
    callsOf(cmd) {
      return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
    },
  };
}

export function text(selector: string): string {
  return document.querySelector(selector)?.textContent ?? "";
}

/** The element matching `selector`; throws when there is none. */
export function el<T extends Element = HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`no element ${selector}`);
  return found;
}

export async function typeAndSend(line: string): Promise<void> {
  const input = el<HTMLTextAreaElement>("#compose");
  input.value = line;
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  await settle();
}

/** Types `value` into the "new conversation" box and presses Enter. */
export async function openFromBox(value: string): Promise<void> {
  const input = el<HTMLInputElement>("#new-conversation");
  input.value = value;
  input.form?.requestSubmit();
  await settle();
}
