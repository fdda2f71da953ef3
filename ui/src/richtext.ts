// Message text with the few marks chat users type by habit: ```fenced code blocks```, `inline
// code` and links. The text is remote and untrusted: it is never parsed as HTML. This finds
// the marks itself and builds elements around text nodes; whatever it does not recognise stays
// text, exactly as written.
//
// Links: only http:, https: and mailto: addresses written with their scheme, outside code. The
// visible text is the address as written (so what you see is where it goes); href, title and
// data-href hold the address as `URL` parses it (hosts in punycode: a look-alike host shows
// in the tooltip). Clicking one never navigates the window: MessageList hands data-href to its
// openLink action.
//
// Cost: the message list renders thousands of rows a second under a firehose, so text with no
// backtick and no colon (no code, no scheme) is one text node without a regex run, and every
// scan below is linear in the text's length (no backtracking on hostile input). A message
// marks at most MAX_MARKS elements (a row stays a few nodes); the rest of it stays text.

import { h } from "./dom";

const SCHEMES = new Set(["http:", "https:", "mailto:"]);
/** Where a link may start: a scheme we open. */
const LINK_START = /https?:\/\/|mailto:/giu;
/** What ends a link: spaces, quotes and angle brackets around addresses, backticks, and invisible or text-direction characters (which would make the shown address lie). */
const LINK_STOP = /[\s<>"`\p{Cc}\p{Cf}]/u;
/** A letter or digit right before a scheme: part of a word, not a link ("xhttp://"). */
const WORD_CHAR = /[\p{L}\p{N}_]/u;
/** Punctuation that ends sentences rather than addresses. */
const TRAILING = ".,;:!?'*";
/** The language line after an opening fence: one short word, then a newline. */
const FENCE_LANG = /^([\w+#.-]{1,32})?\n/u;
/** Inline code: single backticks around a run without backticks or newlines. */
const INLINE_CODE = /`([^`\n]+)`/gu;
/** Most elements one message's text becomes. */
export const MAX_MARKS = 100;

/** What is built so far: the nodes, and how many of them are elements. */
interface Out {
  nodes: Node[];
  marks: number;
}

/** `text` as nodes: code blocks, inline code and links as elements, everything else as text. */
export function richText(text: string): Node[] {
  if (!text.includes("`") && !text.includes(":")) return [document.createTextNode(text)];
  const out: Out = { nodes: [], marks: 0 };
  fences(text, out);
  return out.nodes;
}

/** The address `written` as `URL` parses it, if it is one we open; else null. */
export function safeHref(written: string): string | null {
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    return null;
  }
  if (!SCHEMES.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && url.hostname === "") return null;
  return url.href;
}

function text(s: string, out: Out): void {
  if (s) out.nodes.push(document.createTextNode(s));
}

function mark(el: HTMLElement, out: Out): void {
  out.nodes.push(el);
  out.marks++;
}

/** Fenced code blocks; the text between them goes on to inline code and links. */
function fences(s: string, out: Out): void {
  if (!s.includes("```")) {
    inline(s, out);
    return;
  }
  let plain = 0;
  let from = 0;
  while (out.marks < MAX_MARKS) {
    const open = s.indexOf("```", from);
    if (open < 0) break;
    const close = s.indexOf("```", open + 3);
    if (close < 0) break;
    if (close === open + 3) {
      // "``````": nothing inside, not a block.
      from = close;
      continue;
    }
    let body = s.slice(open + 3, close);
    const lang = FENCE_LANG.exec(body);
    if (lang) body = body.slice(lang[0].length);
    if (body.endsWith("\n")) body = body.slice(0, -1);
    inline(s.slice(plain, open), out);
    mark(codeBlock(body, lang?.[1]), out);
    plain = from = close + 3;
    // The block ends its line: a newline right after the fence would add an empty one.
    if (s[plain] === "\n") plain++;
  }
  inline(s.slice(plain), out);
}

function codeBlock(code: string, lang: string | undefined): HTMLElement {
  // Focusable: a long line scrolls sideways, and keyboard users must be able to scroll it.
  return h("pre", { class: "code-block", tabindex: "0", "data-lang": lang }, h("code", {}, code));
}

/** Inline code spans; the text between them goes on to links. */
function inline(s: string, out: Out): void {
  if (!s.includes("`") || out.marks >= MAX_MARKS) {
    links(s, out);
    return;
  }
  let plain = 0;
  INLINE_CODE.lastIndex = 0;
  for (let m = INLINE_CODE.exec(s); m && out.marks < MAX_MARKS; m = INLINE_CODE.exec(s)) {
    links(s.slice(plain, m.index), out);
    if (out.marks >= MAX_MARKS) {
      text(s.slice(m.index), out);
      return;
    }
    mark(h("code", { class: "inline-code" }, m[1]), out);
    plain = m.index + m[0].length;
  }
  links(s.slice(plain), out);
}

/** Links in plain text (no code in `s`). */
function links(s: string, out: Out): void {
  if (!s.includes(":") || out.marks >= MAX_MARKS) {
    text(s, out);
    return;
  }
  let plain = 0;
  LINK_START.lastIndex = 0;
  for (let m = LINK_START.exec(s); m && out.marks < MAX_MARKS; m = LINK_START.exec(s)) {
    const start = m.index;
    const schemeEnd = start + m[0].length;
    if (start > 0 && WORD_CHAR.test(s[start - 1] as string)) continue;
    let end = schemeEnd;
    while (end < s.length && !LINK_STOP.test(s[end] as string)) end++;
    end = withoutTrailing(s, start, end);
    LINK_START.lastIndex = Math.max(end, schemeEnd);
    if (end === schemeEnd) continue;
    const written = s.slice(start, end);
    const href = safeHref(written);
    if (href === null) continue;
    text(s.slice(plain, start), out);
    mark(h("a", { class: "link", href, title: href, "data-href": href, rel: "noopener noreferrer" }, written), out);
    plain = end;
  }
  text(s.slice(plain), out);
}

/**
 * Where the link in s[start, end) really ends: sentence punctuation after it is not part of it,
 * nor is a closing bracket that opens nowhere in it ("(see https://x.y/a_(b))." keeps "(b)").
 * Linear: the bracket counts are made once.
 */
function withoutTrailing(s: string, start: number, end: number): number {
  let parens = 0;
  let brackets = 0;
  for (let i = start; i < end; i++) {
    const c = s[i];
    if (c === "(") parens++;
    else if (c === ")") parens--;
    else if (c === "[") brackets++;
    else if (c === "]") brackets--;
  }
  while (end > start) {
    const c = s[end - 1] as string;
    if (TRAILING.includes(c)) end--;
    else if (c === ")" && parens < 0) {
      parens++;
      end--;
    } else if (c === "]" && brackets < 0) {
      brackets++;
      end--;
    } else break;
  }
  return end;
}
