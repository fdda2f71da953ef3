// Initials avatars: one or two initials of a name on a colour picked from the name, the same
// colour for the same (normalised) name on every row and every run. Decoration only: the row
// says who wrote it in text (the avatar is aria-hidden), and the colour proves nothing (anyone
// can send under a name; trust.ts says who is who).
//
// Colours: a hue from a hash of the name, at the lightness that keeps --avatar-text (white) at
// 4.5:1 or more on it (WCAG AA), so yellows come out darker than blues.

import { normaliseName } from "./compose";
import { h } from "./dom";

const SATURATION = 55;
/** Contrast to aim for (above 4.5, so 8-bit rounding in the browser cannot drop below it). */
const TARGET = 4.7;
/** Splits a name into words for its initials. */
const WORD_SPLIT = /[\s._-]+/u;
/** A grapheme that can stand as an initial: a letter, a digit or an emoji. */
const INITIAL = /[\p{L}\p{N}\p{Extended_Pictographic}\p{Regional_Indicator}]/u;

const graphemes: (s: string) => Iterable<string> =
  typeof Intl.Segmenter === "function"
    ? (() => {
        const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
        return (s: string) => Array.from(segmenter.segment(s), (g) => g.segment);
      })()
    : (s: string) => Array.from(s);

/** Up to two initials of `name` (first letters of its first two words), "?" when it has none. */
export function initials(name: string): string {
  let out = "";
  let count = 0;
  for (const word of name.split(WORD_SPLIT)) {
    if (!word) continue;
    for (const g of graphemes(word)) {
      if (INITIAL.test(g)) {
        out += g.toLocaleUpperCase();
        count++;
        break;
      }
    }
    if (count === 2) break;
  }
  return out || "?";
}

/** WCAG relative luminance of an sRGB colour (channels 0–1). */
export function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** sRGB channels (0–1) of hsl(h, s%, l%). */
export function hslToRgb(hue: number, s: number, l: number): [number, number, number] {
  const sat = s / 100;
  const light = l / 100;
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    return light - sat * Math.min(light, 1 - light) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0), f(8), f(4)];
}

/** Per hue (0–359): the lightest lightness (%) of 42 or less on which white reaches TARGET. */
const LIGHTNESS: number[] = Array.from({ length: 360 }, (_, hue) => {
  let l = 42;
  while (l > 10 && 1.05 / (luminance(...hslToRgb(hue, SATURATION, l)) + 0.05) < TARGET) l--;
  return l;
});

/** FNV-1a over the UTF-16 code units of `s`: stable across runs and platforms. */
function hash(s: string): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

/** The avatar colour of `name`, as a CSS hsl() colour. */
export function avatarColour(name: string): string {
  const hue = hash(normaliseName(name)) % 360;
  return `hsl(${hue}, ${SATURATION}%, ${LIGHTNESS[hue] ?? 30}%)`;
}

// Rows are rendered by the thousand and a conversation has few senders: remember the last few
// hundred names (forgotten all at once, so a flood of names cannot grow it).
const cache = new Map<string, { text: string; colour: string }>();
const CACHE_SIZE = 500;

/** `<span class="avatar" aria-hidden="true">` with `name`'s initials on its colour. */
export function avatarElement(name: string): HTMLElement {
  let look = cache.get(name);
  if (!look) {
    if (cache.size >= CACHE_SIZE) cache.clear();
    look = { text: initials(name), colour: avatarColour(name) };
    cache.set(name, look);
  }
  const el = h("span", { class: "avatar", "aria-hidden": "true" }, look.text);
  // A CSSOM property, not a style attribute: allowed by the CSP (style-src 'self').
  el.style.backgroundColor = look.colour;
  return el;
}
