// Reading what is typed: a composer line ("@bob hello", "#team hi", "/join #team", or text for
// the open conversation) and the "new conversation" box ("#team", "@bob", "bob", "~messages").
// The username rule mirrors crates/core/src/username.rs (the backend checks again; this is for
// instant feedback and picking the conversation). Room names are checked by the backend only.

import type { ConversationId } from "./ipc";

export const MAX_USERNAME_CHARS = 64;
const FORBIDDEN = /[*?[\]\\@,]/u;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Normalises a username the way the original client did: trim, lowercase. */
export function normaliseName(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Why `name` (already normalised) is not a valid username, or null when it is. */
export function usernameProblem(name: string): string | null {
  if (name.length === 0) return "a username is required";
  if ([...name].length > MAX_USERNAME_CHARS) return `a username can have at most ${MAX_USERNAME_CHARS} characters`;
  if (/\s/u.test(name)) return "a username cannot contain spaces";
  if (CONTROL.test(name)) return "a username cannot contain control characters";
  const bad = FORBIDDEN.exec(name);
  if (bad) return `a username cannot contain "${bad[0]}" (not allowed: * ? [ ] \\ @ ,)`;
  return null;
}

export type Command = "join" | "leave" | "who";
const COMMANDS: readonly string[] = ["join", "leave", "who"];

/**
 * What a composer line asks for. send: `text` to `conversation`; null means the line starts
 * with `@name` or `#room` and the backend reads the address (`opens` is the direct
 * conversation to show at once, when known). command: `/join`, `/leave`, `/who` with the rest
 * of the line as `arg`.
 */
export type Line =
  | { kind: "send"; conversation: ConversationId | null; text: string; opens: ConversationId | null }
  | { kind: "command"; command: Command; arg: string }
  | { kind: "error"; error: string };

/**
 * Reads a composer line typed with conversation `active` open. In a room every line goes to
 * the room (a leading `@bob` is a mention there); elsewhere a leading `@name` or `#room`
 * addresses the line, and anything else goes to the open conversation.
 */
export function readLine(line: string, active: ConversationId | null): Line {
  const text = line.trim();
  if (text.length === 0) return { kind: "error", error: "type a message" };
  if (text.startsWith("/")) return readCommand(text);
  if (active?.startsWith("#")) return { kind: "send", conversation: active, text, opens: null };
  if (text.startsWith("@")) {
    const match = /^@(\S*)\s*([\s\S]*)$/u.exec(text);
    const to = normaliseName(match?.[1] ?? "");
    const problem = usernameProblem(to);
    if (problem) return { kind: "error", error: problem };
    if ((match?.[2] ?? "").trim().length === 0) return { kind: "error", error: `the message to @${to} is empty` };
    return { kind: "send", conversation: null, text, opens: `@${to}` };
  }
  if (text.startsWith("#")) {
    const match = /^#(\S*)\s*([\s\S]*)$/u.exec(text);
    const room = match?.[1] ?? "";
    if (room.length === 0) return { kind: "error", error: "a room name is required after #" };
    if ((match?.[2] ?? "").trim().length === 0) return { kind: "error", error: `the message to #${room} is empty` };
    return { kind: "send", conversation: null, text, opens: null };
  }
  if (active) return { kind: "send", conversation: active, text, opens: null };
  return { kind: "error", error: 'start with @name or #room, e.g. "@bob hello"' };
}

function readCommand(text: string): Line {
  const match = /^\/(\S*)\s*([\s\S]*)$/u.exec(text);
  const name = (match?.[1] ?? "").toLowerCase();
  const arg = (match?.[2] ?? "").trim();
  if (!COMMANDS.includes(name)) {
    return { kind: "error", error: `unknown command "/${name}" (try /join #room, /leave, /who)` };
  }
  if (name === "join" && arg.length === 0) return { kind: "error", error: "usage: /join #room" };
  return { kind: "command", command: name as Command, arg };
}

/** What the "new conversation" box asks for: a direct conversation to open, or a room/channel to join. */
export type Target = { kind: "direct"; conversation: ConversationId } | { kind: "join"; name: string } | { kind: "error"; error: string };

export function readTarget(input: string): Target {
  const text = input.trim();
  if (text.length === 0) return { kind: "error", error: "type #room, ~channel, @name or a name" };
  if (text.startsWith("#") || text.startsWith("~")) {
    if (text.length === 1) return { kind: "error", error: `a name is required after ${text}` };
    if (/\s/u.test(text)) return { kind: "error", error: "a room name cannot contain spaces" };
    return { kind: "join", name: text };
  }
  const name = normaliseName(text.startsWith("@") ? text.slice(1) : text);
  const problem = usernameProblem(name);
  if (problem) return { kind: "error", error: problem };
  return { kind: "direct", conversation: `@${name}` };
}
