// The App against a mocked backend (@tauri-apps/api/mocks): every IPC call is recorded, and
// session events are pushed through the real Channel the app handed to connect/attach.

import { mockIPC } from "@tauri-apps/api/mocks";
import { App } from "../app";
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
  profile: { connection: "redis://127.0.0.1:6379", username: "alice", namespace: "", delivery: "durable" },
  passwordSaved: false,
  keychainProblem: null,
};

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
};

export function message(partial: Partial<ipc.ChatMessage> & { content: string }): ipc.ChatMessage {
  return {
    id: crypto.randomUUID(),
    sender: "bob",
    to: "alice",
    sentAt: null,
    receivedAt: "2026-11-24T10:00:00.000Z",
    channel: "alice",
    legacy: false,
    durable: true,
    ...partial,
  };
}

export function chat(content: string, sender = "bob", id: string = crypto.randomUUID()): ipc.SessionEvent {
  return { kind: "chat", ...message({ content, sender, id }) };
}

/** A message we sent to `to`, as the backend returns it from send. */
export function sentMessage(to: string, text: string, id: string = crypto.randomUUID()): ipc.ChatMessage {
  return message({ id, sender: "alice", to, content: `@${to} ${text}`, channel: to, sentAt: new Date().toISOString(), receivedAt: new Date().toISOString() });
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
    ...partial,
  };
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
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

export async function start(overrides: Partial<Record<string, Handler>> = {}): Promise<Harness> {
  const calls: Harness["calls"] = [];
  let channelId: number | null = null;
  let index = 0;
  const handlers: Record<string, Handler> = {
    load_profile: () => profile,
    attach: () => null,
    check_connection: () => ({ addr: "127.0.0.1:6379", tls: false, user: null, hasPassword: false, db: 0, notes: [] }),
    connect: () => connected,
    send: (_cmd, args) => sentMessage(String(args.to), String(args.text)),
    history: () => ({ messages: [], more: null }),
    retry_message: () => null,
    retry_now: () => null,
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
