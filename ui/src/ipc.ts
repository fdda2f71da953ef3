// The only module that talks to Rust. Types mirror src-tauri/src/state.rs and
// crates/core (session/events.rs, wire.rs, inbox.rs); error codes mirror core's `Code` enum
// (crates/core/src/error.rs).
// Conversations, rooms, presence, typing and read positions follow the IPC contract of issue 8;
// everything crosses as camelCase JSON.

import { Channel, invoke } from "@tauri-apps/api/core";

/** Every error code the backend sends. Unknown codes become "internal". */
export const ERROR_CODES = [
  "invalid_settings",
  "invalid_username",
  "invalid_room",
  "invalid_message",
  "message_too_large",
  "auth",
  "forbidden",
  /** The password would cross the network unencrypted: re-submit with allowPlainPassword once the user agrees. */
  "plaintext_password",
  "password_required",
  "unreachable",
  "timeout",
  "tls",
  "unsupported_server",
  "not_connected",
  "redis",
  "settings_store",
  "storage",
  /** Our signing identity cannot be loaded or created (keychain, key file). */
  "identity",
  /** A search or export that cannot run (the message says why). */
  "invalid_search",
  /** Another Redchat window already runs for this user on this computer. */
  "already_running",
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

/**
 * How messages travel. Durable: PUBLISH plus the recipient's inbox stream, so offline people
 * get them later and there is history. Live only: PUBLISH alone, like the original client.
 */
export type DeliveryMode = "durable" | "liveOnly";

export interface Profile {
  connection: string;
  username: string;
  namespace: string;
  delivery: DeliveryMode;
  /** Others see when this user is online (presence heartbeats). Default true. */
  sharePresence: boolean;
  /** CA file (PEM) trusted besides the system's; null when none (or a profile saved before TLS files). */
  tlsCa: string | null;
  /** Client certificate (PEM) for servers that require one. */
  tlsCert: string | null;
  /** The client certificate's private key (PEM). */
  tlsKey: string | null;
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
  delivery: DeliveryMode;
  /** Others see when this user is online. Default true. */
  sharePresence: boolean;
  password?: string;
  /** Start even if the server cannot be reached now, and keep trying (start-up connect). */
  keepTrying?: boolean;
  /** TLS files (paths); null or absent: none. */
  tlsCa?: string | null;
  tlsCert?: string | null;
  tlsKey?: string | null;
  /** The user agreed that the password crosses the network unencrypted (after plaintext_password). */
  allowPlainPassword?: boolean;
}

/** Something the doctor found wrong, with its fix in the message. */
export interface DoctorProblem {
  code: string;
  message: string;
}

/** A command Redchat needs and whether the server's ACL allows it (null: could not tell). */
export interface DoctorCommand {
  command: string;
  purpose: string;
  allowed: boolean | null;
}

/** The doctor's report on a connect request (`doctor`); it never fails, problems are listed. */
export interface DoctorReport {
  connection: string;
  host: string;
  port: number;
  tls: boolean;
  tlsVerification: string;
  user: string;
  passwordSet: boolean;
  database: number;
  redchatUser: string | null;
  connected: boolean;
  serverVersion: string | null;
  flavour: string | null;
  resp3: boolean | null;
  cluster: boolean | null;
  latencyMs: number | null;
  commandsCheckedWith: string | null;
  commands: DoctorCommand[];
  notes: string[];
  problems: DoctorProblem[];
  /** The whole report as plain text (what "Copy report" copies). */
  text: string;
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
  delivery: DeliveryMode;
  /** The link is up now; false after a keep-trying start while the server is away. */
  online: boolean;
  /** Whether this session announces the user as online. */
  sharePresence: boolean;
}

/**
 * Where a message belongs, as a string: `@bob` (direct conversation with bob), `#team` (room
 * team), `~messages` (raw pub/sub channel). Every message-like event carries one; the UI
 * never works it out from sender, recipient or channel.
 */
export type ConversationId = string;

/** Someone in a room, the who list or a presence event. */
export interface Member {
  user: string;
  online: boolean;
  /** RFC 3339; null when never seen (or not shared). */
  lastSeen: string | null;
}

export interface MemberList {
  members: Member[];
  /** Garbage entries in the room's members set. */
  unreadable: number;
}

/**
 * How far a message is believed to come from its sender. verified: signed by the pinned key and
 * the user compared safety numbers; signed: signed by the pinned key (or the first key seen);
 * unsigned: no signature (the original client, redis-cli, an older Redchat); invalid: a
 * signature that does not verify (forged, altered, re-published); keyChanged: a valid signature
 * by a key other than the one pinned for this sender.
 */
export type Trust = "verified" | "signed" | "unsigned" | "invalid" | "keyChanged";

export const TRUST_STATES: readonly Trust[] = ["verified", "signed", "unsigned", "invalid", "keyChanged"];

/** Where someone stands with us: wrote first and not answered, a contact, or blocked. */
export type Standing = "request" | "contact" | "blocked";

/** What we know of one person (`contact`, `mark_verified`, `accept_new_key`). */
export interface Contact {
  user: string;
  standing: Standing;
  /** The key pinned for them (base64), null until they sent a signed message. */
  key: string | null;
  /** The key they publish on the server, if any. */
  publishedKey: string | null;
  /** The user compared safety numbers and marked them verified. */
  verified: boolean;
  /** A key other than the pinned one they signed with lately (not trusted until accepted). */
  newKey: string | null;
  /** 12 groups of 5 digits separated by spaces; null without a pinned key. */
  safetyNumber: string | null;
  /** Our own public key (base64). */
  myKey: string;
}

/** Where our private key is kept. */
export type KeyStorage = { kind: "keychain" } | { kind: "file"; path: string } | { kind: "memory" };

export interface IdentityInfo {
  /** Our public key (base64). */
  key: string;
  storage: KeyStorage;
}

/**
 * Stable codes of `notice` events. stream_*, auth_refused and local_store are states that
 * need the user (shown until dismissed); the others are informational.
 */
export type NoticeCode =
  | "stream_wrong_type"
  | "stream_forbidden"
  | "stream_reset"
  | "stream_exhausted"
  | "stream_future_id"
  | "room_list_unreadable"
  | "room_list_garbage"
  | "members_unreadable"
  | "auth_refused"
  | "overflow"
  /** The local message store is damaged (moved aside, rebuilt), cannot be written, or fell behind. */
  | "local_store";

export interface ChatMessage {
  id: string;
  sender: string;
  to: string | null;
  content: string;
  sentAt: string | null;
  receivedAt: string;
  channel: string;
  legacy: boolean;
  /** Came from (or went to) an inbox stream rather than only pub/sub. */
  durable: boolean;
  conversation: ConversationId;
  /** Room name without `#`; null for direct messages. */
  room: string | null;
  /** Sent by this user and signed by our own key (from this or another device). */
  mine: boolean;
  /** A room message naming `@<me>` as a word. */
  mentionsMe: boolean;
  /** Order key, ms since the epoch: the stream entry's server time when durable, else sent time. */
  at: number;
  /** Whether it is believed to come from `sender` (absent from an older core: unsigned). */
  trust: Trust;
  /** A direct message from someone who is not a contact yet (the Requests section). */
  request: boolean;
  /** Why the sender's name is not an honest name (invisible, bidi or mixed-script characters). */
  senderIssue?: string;
  /** A contact whose name looks like this sender's (a possible impostor). */
  lookalike?: string;
}

export interface PlainText {
  id: string;
  conversation: ConversationId;
  channel: string;
  text: string;
  receivedAt: string;
}

export interface Unreadable {
  id: string;
  conversation: ConversationId;
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
  /** Reconnect attempts in this outage (0 when connected). */
  attempt: number;
  /** Milliseconds until the next attempt, while waiting for it. */
  retryInMs: number | null;
  delivery: DeliveryMode;
  /** Messages waiting in the outbox. */
  queued: number;
  /** What kind of deployment `addr` belongs to (behind Sentinel `addr` is the master now). */
  topology: Topology;
  /** Data nodes known: 1 standalone, the master and its replicas behind Sentinel. */
  nodes: number;
}

export type Topology = "standalone" | "sentinel" | "cluster";

/**
 * Where a message we sent stands. queued: in the outbox; delivered: someone was listening;
 * stored: nobody was listening, kept in the recipient's inbox stream; notDelivered: live-only
 * and nobody was listening (lost); failed: Redis refused it (retry_message re-queues it).
 */
export type OutgoingState = "queued" | "delivered" | "stored" | "notDelivered" | "failed";

export interface Outgoing {
  message: ChatMessage;
  state: OutgoingState;
  /** PUBLISH's receiver count, once sent. */
  receivers: number | null;
  /** Why it failed. */
  reason: string | null;
}

export type SessionEvent =
  | ({ kind: "chat" } & ChatMessage)
  | ({ kind: "plain" } & PlainText)
  | ({ kind: "unreadable" } & Unreadable)
  | ({ kind: "status" } & Status)
  /** A message we sent changed state; also sent at start for messages left in the outbox. */
  | ({ kind: "outgoing" } & Outgoing)
  /** Reading the inbox caught up; `count` messages (sent just before as chat events) arrived while away. */
  | { kind: "caughtUp"; count: number }
  /** Something to tell the user that is not a message; `code` is a NoticeCode (or a newer one). */
  | { kind: "notice"; code: string; text: string }
  /** `user` signs with a key other than the one pinned for them: announced in `conversation`. */
  | { kind: "keyChanged"; conversation: ConversationId; user: string }
  /** Messages of blocked sender `user` were dropped: `count` so far this session. */
  | { kind: "blocked"; user: string; count: number }
  /** `user` is typing in `conversation`: shown for 6 s unless repeated. */
  | { kind: "typing"; conversation: ConversationId; user: string }
  | { kind: "presence"; user: string; online: boolean; lastSeen: string | null }
  /** Authoritative unread and mention counts (the read position is shared by all devices). */
  | { kind: "unread"; conversation: ConversationId; count: number; mentions: number }
  /** Someone joined or left a room: a system line there. */
  | ({ kind: "membership" } & Membership)
  /** Every room and channel this user is in (after connect and after every join/leave). */
  | { kind: "joined"; conversations: ConversationId[] }
  | ({ kind: "members"; conversation: ConversationId } & MemberList)
  /** Everyone online (and recently seen). */
  | { kind: "who"; users: Member[] };

export interface Membership {
  id: string;
  conversation: ConversationId;
  room: string;
  user: string;
  action: "join" | "leave";
  /** Order key, ms since the epoch. */
  at: number;
  receivedAt: string;
  /** Whether it is believed to come from `user` (absent from an older core: unsigned). */
  trust: Trust;
}

/** Where the next older history page starts: opaque to the UI, handed back as it came. */
export type HistoryCursor = Record<string, string | null>;

export interface HistoryPage {
  /** Oldest first. */
  messages: ChatMessage[];
  /** Cursor for the next older page; null when there is nothing older. */
  more: HistoryCursor | null;
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

/** What works and what does not with `request` (the keychain's password when it has none). */
export function doctor(request: ConnectRequest): Promise<DoctorReport> {
  return call("doctor", { request });
}

/** A native "open file" dialog titled `title`: the path chosen, or null when cancelled. */
export function pickFile(title: string): Promise<string | null> {
  return call("pick_file", { title });
}

/** Opens the log folder in the file manager; resolves to its path. */
export function openLogsFolder(): Promise<string> {
  return call("open_logs_folder");
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

/**
 * Puts `text` for `conversation` (or the `@name` / `#room` the text starts with, when
 * `conversation` is null) in the outbox and returns the message, state "queued"; later states
 * arrive as `outgoing` events, which may come before this resolves.
 */
export function send(conversation: ConversationId | null, text: string): Promise<ChatMessage> {
  return call("send", { conversation, text });
}

/** Joins (creating it if needed) room `#name` / `name`, or raw channel `~name`. Errors: invalid_room. */
export function join(name: string): Promise<ConversationId> {
  return call("join", { name });
}

export function leave(conversation: ConversationId): Promise<void> {
  return call("leave", { conversation });
}

/** Everything in `conversation` up to now is read (on every device of this user). */
export function markRead(conversation: ConversationId): Promise<void> {
  return call("mark_read", { conversation });
}

/** The user is typing in `conversation` (the core sends at most one signal per 3 s). */
export function typing(conversation: ConversationId): Promise<void> {
  return call("typing", { conversation });
}

export function members(conversation: ConversationId): Promise<MemberList> {
  return call("members", { conversation });
}

/** The unread total: the native window title (`(3) Redchat`), the taskbar badge and the tray follow. */
export function setUnread(total: number): Promise<void> {
  return call("set_unread", { total });
}

/** What became of a notification: the shell never shows one while the window has focus or in do-not-disturb. */
export type Shown = "shown" | "doNotDisturb" | "focused" | "failed";

/** A desktop notification (plain text); clicking it opens `conversation` where the desktop reports clicks. */
export function notify(title: string, body: string, conversation: ConversationId | null): Promise<Shown> {
  return call("notify", { title, body, conversation });
}

export function setDoNotDisturb(on: boolean): Promise<void> {
  return call("set_do_not_disturb", { on });
}

/** What the shell itself reports (not a session): do-not-disturb toggled from the tray; a notification clicked. */
export type ShellEvent = { kind: "doNotDisturb"; on: boolean } | { kind: "open"; conversation: ConversationId };

/** Streams shell events to `onEvent`, starting with the current state. */
export function watchShell(onEvent: (event: ShellEvent) => void): Promise<void> {
  const channel = new Channel<ShellEvent>();
  channel.onmessage = (event) => {
    if (!event || typeof event !== "object") return;
    if (event.kind === "doNotDisturb" && typeof event.on === "boolean") onEvent(event);
    else if (event.kind === "open" && typeof event.conversation === "string" && /^[@#~]/u.test(event.conversation)) onEvent(event);
  };
  return call("watch_shell", { events: channel });
}

/** The window's preferences as the shell keeps them (`redchat.*` keys, string values). */
export function loadPrefs(): Promise<Record<string, string>> {
  return call("load_prefs");
}

/** Keeps preference `key` (`redchat.theme`, `redchat.muted.<user>`) in the shell. */
export function savePref(key: string, value: string): Promise<void> {
  return call("save_pref", { key, value });
}

/** Opens a link from a message in the system browser (http, https, mailto only; others are refused). */
export function openLink(url: string): Promise<void> {
  return call("open_link", { url });
}

/** Everyone online (and recently seen). */
export function who(): Promise<Member[]> {
  return call("who");
}

/** Queues a failed message again. */
export function retryMessage(id: string): Promise<void> {
  return call("retry_message", { id });
}

/** Reconnects now instead of waiting for the next attempt. */
export function retryNow(): Promise<void> {
  return call("retry_now");
}

/**
 * Up to `limit` messages of `conversation` (all conversations when null) older than `before`
 * (from the newest when null; a cursor is only handed back to the query that produced it).
 * Empty in live-only mode. Rejects with not_connected while offline.
 */
export function history(conversation: ConversationId | null, before: HistoryCursor | null, limit: number): Promise<HistoryPage> {
  return call("history", { conversation, before, limit });
}

/** What a search of the local store found, newest first. */
export interface Found {
  hits: ChatMessage[];
  /** The words searched for (lowercase): highlighted in the hits. */
  words: string[];
  /** More matched than asked for. */
  more: boolean;
}

/**
 * Searches the messages stored on this device: words and `from:`, `in:`, `before:`,
 * `after:` filters, within `conversation` when given. Fails with `invalid_search` saying why.
 */
export function search(query: string, conversation: ConversationId | null, limit: number): Promise<Found> {
  const offsetMinutes = -new Date().getTimezoneOffset();
  return call("search", { query, conversation, limit, offsetMinutes });
}

/** A stored message with the messages around it (oldest first). */
export interface ContextPage {
  messages: ChatMessage[];
  /** Older history continues here (a `history` cursor). */
  more: HistoryCursor | null;
  /** Newer messages exist beyond the last one. */
  newer: boolean;
}

export function messageContext(conversation: ConversationId, id: string): Promise<ContextPage> {
  return call("message_context", { conversation, id });
}

export type ExportFormat = "json" | "csv" | "md";

/** Asks where to save, then exports the stored messages (of one conversation, or all); null when cancelled. */
export function exportMessages(conversation: ConversationId | null, format: ExportFormat): Promise<{ path: string; count: number } | null> {
  return call("export_messages", { conversation, format });
}

/** What we know of `user`: standing, pinned key, safety number. */
export function contact(user: string): Promise<Contact> {
  return call("contact", { user });
}

/** Marks `user`'s pinned key verified (safety numbers compared) or not. */
export function markVerified(user: string, verified: boolean, key: string | null = null): Promise<Contact> {
  return call("mark_verified", { user, verified, key });
}

/** Trusts the new key `user` signs with (pins it; not verified until compared again). */
export function acceptNewKey(user: string, key: string | null = null): Promise<Contact> {
  return call("accept_new_key", { user, key });
}

/** Accepts (contact), blocks, or puts back as a request. */
export function setStanding(user: string, standing: Standing): Promise<null> {
  return call("set_standing", { user, standing });
}

/** Our public key and where the private key is kept. */
export function identityInfo(): Promise<IdentityInfo> {
  return call("identity_info");
}

/**
 * Our private identity key as text (`redchat-identity-v1:…`), to use this identity on another
 * computer of ours. SECRET: anyone with it can sign as us. Never log it or keep it around.
 * Errors: not_connected.
 */
export function exportIdentity(): Promise<string> {
  return call("export_identity");
}

/**
 * Makes this computer sign as the identity `text` (from exportIdentity on another computer)
 * from the next connect on: the new public key and where it is kept. Reconnect afterwards.
 * Errors: identity (not an identity, or damaged), not_connected, storage.
 */
export function importIdentity(text: string): Promise<IdentityInfo> {
  return call("import_identity", { text });
}
