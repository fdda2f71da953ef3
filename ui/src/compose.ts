// Reading a typed line: "@bob hello" addresses bob. Mirrors crates/core/src/username.rs
// (the backend checks again; this is for instant feedback and picking the conversation).

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

export type Addressed = { ok: true; to: string; body: string } | { ok: false; error: string };

/**
 * Works out who a typed line goes to. A leading `@name` wins; otherwise the open
 * conversation's peer, if there is one.
 */
export function addressLine(line: string, openPeer: string | null): Addressed {
  const text = line.trim();
  if (text.length === 0) return { ok: false, error: "type a message" };
  if (text.startsWith("@")) {
    const match = /^@(\S*)\s*([\s\S]*)$/u.exec(text);
    const to = normaliseName(match?.[1] ?? "");
    const body = (match?.[2] ?? "").trim();
    const problem = usernameProblem(to);
    if (problem) return { ok: false, error: problem };
    if (body.length === 0) return { ok: false, error: `the message to @${to} is empty` };
    return { ok: true, to, body };
  }
  if (openPeer) return { ok: true, to: openPeer, body: text };
  return { ok: false, error: 'start with @name, e.g. "@bob hello"' };
}
