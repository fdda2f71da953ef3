// The only module that talks to Rust. Types mirror src-tauri/src/state.rs and
// crates/core (session.rs, wire.rs); error codes mirror IpcError / core Error::code.

import { Channel, invoke } from "@tauri-apps/api/core";

/** Every error code the backend sends. Unknown codes become "internal". */
export const ERROR_CODES = [
  "invalid_settings",
  "invalid_username",
  "invalid_message",
  "message_too_large",
  "auth",
  "password_required",
  "unreachable",
  "timeout",
  "tls",
  "unsupported_server",
  "not_connected",
  "redis",
  "keychain",
  "settings_store",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class IpcError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IpcError";
  }
}

/** Turns whatever a rejected invoke carries into an IpcError with a known code. */
export function toIpcError(raw: unknown): IpcError {
  if (raw instanceof IpcError) return raw;
  if (typeof raw === "object" && raw !== null && "code" in raw && "message" in raw) {
    const { code, message } = raw as { code: unknown; message: unknown };
    const known = (ERROR_CODES as readonly string[]).includes(String(code));
    return new IpcError(known ? (code as ErrorCode) : "internal", String(message));
  }
  return new IpcError("internal", typeof raw === "string" ? raw : "unexpected error");
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (raw) {
    throw toIpcError(raw);
  }
}

export interface Profile {
  connection: string;
  username: string;
  namespace: string;
}

export interface ProfileView {
  profile: Profile;
  passwordSaved: boolean;
  keychainProblem: string | null;
}

export interface ConnectionCheck {
  addr: string;
  tls: boolean;
  user: string | null;
  hasPassword: boolean;
  db: number;
  notes: string[];
}

export interface ConnectRequest {
  connection: string;
  username: string;
  namespace: string;
  password?: string;
}

export type PasswordStorage = "keychain" | "sessionOnly" | "none";

export interface Connected {
  user: string;
  inbox: string;
  addr: string;
  tls: boolean;
  notes: string[];
  password: PasswordStorage;
  keychainProblem: string | null;
}

export interface ChatMessage {
  id: string;
  sender: string;
  to: string | null;
  content: string;
  sentAt: string | null;
  receivedAt: string;
  channel: string;
  legacy: boolean;
}

export interface PlainText {
  id: string;
  channel: string;
  text: string;
  receivedAt: string;
}

export interface Unreadable {
  id: string;
  channel: string;
  reason: string;
  preview: string;
  size: number;
  receivedAt: string;
}

export type ConnectionState = "connected" | "reconnecting" | "disconnected";

export interface Status {
  state: ConnectionState;
  user: string;
  addr: string;
  reason: string | null;
}

export type SessionEvent =
  | ({ kind: "chat" } & ChatMessage)
  | ({ kind: "plain" } & PlainText)
  | ({ kind: "unreadable" } & Unreadable)
  | ({ kind: "status" } & Status);

export interface SendReport {
  message: ChatMessage;
  receivers: number;
}

export type EventHandler = (batch: SessionEvent[]) => void;

const utf8 = new TextDecoder();

/**
 * A batch from the event channel. The shell sends raw JSON bytes (padded with spaces) so that
 * Tauri uses its fetch path instead of evaluating script source; tests push arrays directly.
 */
export function decodeBatch(message: ArrayBuffer | Uint8Array | SessionEvent[]): SessionEvent[] {
  if (Array.isArray(message)) return message;
  return JSON.parse(utf8.decode(message)) as SessionEvent[];
}

function channelFor(onEvents: EventHandler): Channel<ArrayBuffer | SessionEvent[]> {
  const channel = new Channel<ArrayBuffer | SessionEvent[]>();
  channel.onmessage = (message) => {
    try {
      onEvents(decodeBatch(message));
    } finally {
      // Flow control: the shell sends the next batch once this one is handled.
      call("ack_events").catch(() => undefined);
    }
  };
  return channel;
}

export function loadProfile(): Promise<ProfileView> {
  return call("load_profile");
}

export function checkConnection(connection: string): Promise<ConnectionCheck> {
  return call("check_connection", { connection });
}

export function connect(request: ConnectRequest, onEvents: EventHandler): Promise<Connected> {
  return call("connect", { request, events: channelFor(onEvents) });
}

/** After a page reload: re-attach to the live session, if the backend has one. */
export function attach(onEvents: EventHandler): Promise<Connected | null> {
  return call("attach", { events: channelFor(onEvents) });
}

export function disconnect(): Promise<void> {
  return call("disconnect");
}

/** Sends `text` to `to`, or to the `@name` the text starts with when `to` is null. */
export function send(to: string | null, text: string): Promise<SendReport> {
  return call("send", { to, text });
}
