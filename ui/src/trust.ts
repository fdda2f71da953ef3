// Whether a message comes from who it says, as the window shows it. The core decides (Ed25519
// signatures, keys pinned on first use); this only words and marks it:
//   verified    a small check mark
//   signed      a subtle mark
//   unsigned    a calm "unsigned" tag (the original client, redis-cli: not forged, just unsigned)
//   invalid     a loud warning block: forged or altered
//   keyChanged  a loud warning block: signed with a key that is not the one we know
// Only messages signed by our own key say "(you)"; anything else naming us is a claim and says
// so. Names with invisible or text-direction characters are shown with those characters as
// visible codes, never applied.
//
// Selectors (WebDriver tests): .entry[data-trust="<state>"] and .trust-<state> on messages and
// membership lines; .trust-mark (✓ / signed mark), .trust-tag (unsigned), .trust-warning
// (invalid, keyChanged), .claims-me, .from.suspicious, .sender-issue, .lookalike.

import { h } from "./dom";
import { TRUST_STATES, type Trust } from "./ipc";
import type { Entry } from "./model";

/** `raw` as a known trust state; anything else (absent, a newer core's) counts as unsigned. */
export function trustOf(raw: unknown): Trust {
  return (TRUST_STATES as readonly unknown[]).includes(raw) ? (raw as Trust) : "unsigned";
}

/** Signed by the key we know for the sender. */
export function isAuthentic(trust: Trust): boolean {
  return trust === "verified" || trust === "signed";
}

/** Not to be believed: shown loudly. */
export function isLoud(trust: Trust): boolean {
  return trust === "invalid" || trust === "keyChanged";
}

// Characters that change how a name looks without looking like anything: format characters
// (zero-width, bidi controls, tags), controls, separators, and fillers that render blank.
// (Marks that combine are listed as alternatives: a character class would combine them.)
const HIDDEN = /[\p{Cf}\p{Cc}\p{Z}\u115F\u1160\u3164\uFFA0]|\u034F|\u17B4|\u17B5|[\u180B-\u180F]|[\uFE00-\uFE0F]/gu;

/** `name` with every invisible or text-direction character shown as `⟨U+202E⟩`. */
export function visibleName(name: string): string {
  return name.replace(HIDDEN, (ch) => ch === " " ? ch : `⟨U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}

/** The system line announcing that `user`'s key changed. */
export function keyChangedText(user: string, isMe: boolean): string {
  if (isMe) return "A message claims to be from you, signed with a key that is not yours";
  return `${visibleName(user)}'s safety number has changed — the new key is not trusted until you accept it`;
}

/** What a membership line adds when it is not authentic, or "". */
export function membershipWarning(trust: Trust): string {
  if (trust === "invalid") return "⚠ forged: the signature does not verify";
  if (trust === "keyChanged") return "⚠ signed with a new key, not the one you know";
  return "";
}

/** The warning of a loud message, or "". */
export function warningText(entry: Entry): string {
  const trust = entry.trust ?? "unsigned";
  if (trust === "invalid") return "Forged or altered: this signature does not verify";
  if (trust === "keyChanged") {
    return entry.claimsMe
      ? "Signed with a key that is not yours — this did not come from you"
      : `Signed with a new key — not the one you know for ${visibleName(entry.from)}`;
  }
  return "";
}

/** Who a message is from, as its header says it. */
export function senderText(entry: Entry): string {
  const name = visibleName(entry.from);
  if (entry.mine) return `${name} (you)`;
  if (entry.senderIssue) return `⚠ ${name}`;
  if (entry.claimsMe) return `${name} — claims to be you — not signed by your key`;
  return name;
}

/** The class list addition and data-trust value of a message or membership line. */
export function trustClasses(entry: Entry): string {
  if (entry.trust === undefined) return "";
  const classes = [`trust-${entry.trust}`];
  if (isLoud(entry.trust)) classes.push("not-authentic");
  if (entry.claimsMe) classes.push("claims-me");
  if (entry.senderIssue) classes.push("suspicious-sender");
  return classes.join(" ");
}

/** The sender element of a message's header. */
export function senderElement(entry: Entry): HTMLElement {
  const suspicious = entry.senderIssue !== undefined || entry.claimsMe === true;
  return h("span", { class: suspicious ? "from suspicious" : "from", dir: "auto" }, senderText(entry));
}

/** Marks after the sender: check mark, signed mark or unsigned tag, lookalike flag. */
export function trustMarks(entry: Entry): HTMLElement[] {
  const marks: HTMLElement[] = [];
  switch (entry.trust) {
    case "verified":
      marks.push(h("span", { class: "trust-mark verified", title: "Verified: signed by the key whose safety number you compared", "aria-label": "verified" }, "✓"));
      break;
    case "signed":
      marks.push(h("span", { class: "trust-mark signed", title: "Signed by the key Redchat knows for this sender (not verified)", "aria-label": "signed" }, "•"));
      break;
    case "unsigned":
      marks.push(
        h(
          "span",
          { class: "trust-tag unsigned", title: "Not signed (the original client, redis-cli or an older Redchat): anyone could have sent it under this name" },
          "unsigned",
        ),
      );
      break;
    default:
      break;
  }
  if (entry.lookalike) {
    marks.push(h("span", { class: "lookalike", title: "A different person whose name looks like one of your contacts" }, `⚠ looks like ${visibleName(entry.lookalike)}`));
  }
  return marks;
}

/** Lines above a message's text: the loud trust warning, the sender's name problem. */
export function trustNotes(entry: Entry): HTMLElement[] {
  const notes: HTMLElement[] = [];
  const warning = warningText(entry);
  if (warning) notes.push(h("div", { class: "trust-warning" }, `⚠ ${warning}`));
  if (entry.senderIssue) notes.push(h("div", { class: "sender-issue" }, `⚠ Not an honest name: ${entry.senderIssue}`));
  return notes;
}
