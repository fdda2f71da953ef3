// The themes: style.css's light and dark palettes meet WCAG AA for every text pair the UI draws
// (4.5:1; 3:1 for the focus ring), name the same variables, and are the only place colours are
// written; theme.ts saves and applies the user's choice.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyTheme, loadTheme, parseTheme, THEME_CHOICES } from "./theme";

// A path, not a URL object: under happy-dom the global URL is not the one node:fs accepts.
const css = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "style.css"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");

type Palette = Map<string, string>;

/** The custom properties (and color-scheme) declared in a rule's body. */
function declarations(body: string): Palette {
  const palette: Palette = new Map();
  for (const declaration of body.split(";")) {
    const match = /^\s*(--[\w-]+|color-scheme)\s*:\s*([^]+?)\s*$/.exec(declaration);
    if (match?.[1] && match[2]) palette.set(match[1], match[2]);
  }
  return palette;
}

/** The body of the one rule `pattern` matches; fails the test when there is not exactly one. */
function block(pattern: RegExp, what: string): string {
  const found = [...css.matchAll(new RegExp(pattern.source, "g"))];
  expect(found, `style.css must have exactly one ${what}`).toHaveLength(1);
  return found[0]?.[1] ?? "";
}

const light = declarations(block(/(?:^|\n):root\s*\{([^}]*)\}/, ":root { … } (the light palette)"));
const darkBySystem = declarations(
  block(/@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root:not\(\[data-theme="light"\]\)\s*\{([^}]*)\}\s*\}/, 'dark palette for the system (:root:not([data-theme="light"]))'),
);
const darkByChoice = declarations(block(/:root\[data-theme="dark"\]\s*\{([^}]*)\}/, ':root[data-theme="dark"] { … }'));
const THEMES: [string, Palette][] = [
  ["light", light],
  ["dark", darkByChoice],
];

/** A palette colour as sRGB channels 0–255 (hex or white/black; `var(--x)` resolved). */
function rgb(palette: Palette, name: string): [number, number, number] {
  let value = name.startsWith("--") ? palette.get(name) : name;
  for (let depth = 0; value?.startsWith("var(") && depth < 10; depth++) value = palette.get(value.slice(4, -1).trim());
  if (value === "white") value = "#ffffff";
  if (value === "black") value = "#000000";
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value ?? "")?.[1];
  if (!hex) throw new Error(`${name} is ${String(value)}: not a colour this test can measure`);
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
}

/** WCAG 2 relative luminance of an sRGB colour. */
function luminance([r, g, b]: [number, number, number]): number {
  const linear = (channel: number): number => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG 2 contrast ratio, 1 to 21, whichever colour is lighter. */
function contrast(a: [number, number, number], b: [number, number, number]): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Text colours on the backgrounds they are drawn on (AA body text: 4.5:1). */
const TEXT_PAIRS: [fg: string, bg: string, where: string][] = [
  ["--text", "--bg", "body text"],
  ["--text", "--panel", "panels, messages"],
  ["--text", "--input-bg", "fields"],
  ["--text", "--mine", "own messages"],
  ["--text", "--accent-soft", "the active conversation"],
  ["--text", "--mention-bg", "messages that mention me"],
  ["--text", "--alarm-bg", "sender of a message that is not authentic"],
  ["--muted", "--bg", "hints, typing line"],
  ["--muted", "--panel", "sidebar headings, message times"],
  ["--muted", "--mine", "times in own messages"],
  ["--muted", "--mention-bg", "times in mentions"],
  ["--muted", "--accent-soft", "a request's preview in the active conversation"],
  ["--muted", "--notice-bg", "times in notices"],
  ["--link", "--panel", "links in messages"],
  ["--link", "--bg", "links on the page"],
  ["--link", "--mine", "links in own messages"],
  ["--code-text", "--code-bg", "inline code and code blocks"],
  ["--accent-fg", "--panel", "the title, link buttons"],
  ["--on-accent", "--accent", "primary buttons, the unread badge, newer messages"],
  ["--avatar-text", "--accent", "initials avatars in the accent"],
  ["--on-accent", "--mention", "the mention badge"],
  ["white", "--accent", "white on the accent"],
  ["--on-warn", "--warn", "the requests count badge"],
  ["--ok", "--bg", "doctor: no problems"],
  ["--ok", "--panel", "verified, delivered"],
  ["--ok", "--mine", "delivered, in own messages"],
  ["--warn", "--panel", "queued count"],
  ["--warn", "--mine", "queued, in own messages"],
  ["--bad", "--bg", "errors"],
  ["--bad", "--panel", "errors, not delivered"],
  ["--bad", "--mine", "not delivered, in own messages"],
  ["--bad", "--alarm-bg", "trust warnings"],
  ["--bad", "--danger-bg", "warning counts"],
  ["--notice-text", "--notice-bg", "notices, banners"],
  ["--caution-text", "--caution-bg", "look-alike tags"],
  ["--caution-text", "--panel", "request hints"],
  ["--changed-text", "--changed-bg", "key changed"],
  ["--changed-text-strong", "--changed-bg", "new key box"],
  ["--alarm-text", "--alarm-bg", "text of a message that is not authentic"],
  ["--alarm-text", "--changed-bg", "text of a message whose key changed"],
  ["--danger-text", "--danger-bg", "persistent warnings"],
];

/** Non-text colours that must stand out from what is around them (WCAG 1.4.11: 3:1). */
const UI_PAIRS: [fg: string, bg: string, where: string][] = [
  ["--focus", "--bg", "focus ring on the page"],
  ["--focus", "--panel", "focus ring on panels"],
  ["--focus", "--input-bg", "focus ring next to fields"],
  ["--accent-fg", "--input-bg", "a focused field's border"],
];

describe("contrast()", () => {
  it("is the WCAG 2 ratio", () => {
    expect(contrast([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 5);
    expect(contrast([255, 255, 255], [255, 255, 255])).toBe(1);
    // #767676 is the lightest grey that passes AA on white; #777777 is not.
    expect(contrast([0x76, 0x76, 0x76], [255, 255, 255])).toBeGreaterThanOrEqual(4.5);
    expect(contrast([0x77, 0x77, 0x77], [255, 255, 255])).toBeLessThan(4.5);
  });
});

describe("style.css palettes", () => {
  it("the dark palette names every variable the light one does, and no others", () => {
    expect([...darkByChoice.keys()].sort()).toEqual([...light.keys()].sort());
  });

  it("the dark palette is the same whether the system or the user picked it", () => {
    expect(Object.fromEntries(darkBySystem)).toEqual(Object.fromEntries(darkByChoice));
  });

  it("each palette sets color-scheme, so native controls and scrollbars follow", () => {
    expect(light.get("color-scheme")).toBe("light");
    expect(darkByChoice.get("color-scheme")).toBe("dark");
  });

  it("defines the variables other style sheets rely on", () => {
    for (const name of ["--code-bg", "--code-text", "--link", "--avatar-text", "--focus"]) expect(light.has(name), `${name} in :root`).toBe(true);
  });

  it("writes colours only in the palettes: every rule uses the variables", () => {
    const literal = /#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(|\b(?:white|black|gr[ae]y|silver|red|green|blue|orange|purple|yellow)\b/i;
    const offenders: string[] = [];
    for (const [, body] of css.matchAll(/\{([^{}]*)\}/g)) {
      for (const declaration of (body ?? "").split(";")) {
        const colon = declaration.indexOf(":");
        const property = declaration.slice(0, colon).trim();
        if (colon < 0 || property.startsWith("--")) continue;
        if (literal.test(declaration.slice(colon + 1))) offenders.push(declaration.trim());
      }
    }
    expect(offenders, "hard-coded colours: add a variable to both palettes instead").toEqual([]);
  });

  for (const [theme, palette] of THEMES) {
    it.each(TEXT_PAIRS)(`${theme}: %s on %s (%s) is at least 4.5:1`, (fg, bg) => {
      const ratio = contrast(rgb(palette, fg), rgb(palette, bg));
      expect(ratio, `${fg} on ${bg} in the ${theme} theme is ${ratio.toFixed(2)}:1`).toBeGreaterThanOrEqual(4.5);
    });

    it.each(UI_PAIRS)(`${theme}: %s against %s (%s) is at least 3:1`, (fg, bg) => {
      const ratio = contrast(rgb(palette, fg), rgb(palette, bg));
      expect(ratio, `${fg} against ${bg} in the ${theme} theme is ${ratio.toFixed(2)}:1`).toBeGreaterThanOrEqual(3);
    });
  }
});

describe("theme choice", () => {
  const root = document.documentElement;
  beforeEach(() => {
    localStorage.clear();
    root.removeAttribute("data-theme");
  });
  afterEach(() => {
    localStorage.clear();
    root.removeAttribute("data-theme");
  });

  it("lists the three choices with their labels", () => {
    expect(THEME_CHOICES).toEqual([
      { choice: "system", label: "Follow the system" },
      { choice: "light", label: "Light" },
      { choice: "dark", label: "Dark" },
    ]);
  });

  it("follows the system when nothing is saved, or what is saved is not a choice", () => {
    expect(loadTheme()).toBe("system");
    for (const stale of ["", "Dark", "blue", "null"]) {
      localStorage.setItem("redchat.theme", stale);
      expect(loadTheme(), `saved ${JSON.stringify(stale)}`).toBe("system");
    }
    expect(parseTheme(null)).toBe("system");
    expect(parseTheme(undefined)).toBe("system");
  });

  it("applying light or dark sets data-theme on <html> and is loaded next time", () => {
    applyTheme("dark");
    expect(root.getAttribute("data-theme")).toBe("dark");
    expect(localStorage.getItem("redchat.theme")).toBe("dark");
    expect(loadTheme()).toBe("dark");
    applyTheme("light");
    expect(root.getAttribute("data-theme")).toBe("light");
    expect(loadTheme()).toBe("light");
  });

  it("following the system removes data-theme, so prefers-color-scheme decides", () => {
    applyTheme("dark");
    applyTheme("system");
    expect(root.hasAttribute("data-theme")).toBe(false);
    expect(loadTheme()).toBe("system");
  });

  it("applies to the root it is given", () => {
    const other = document.createElement("div");
    applyTheme("dark", other);
    expect(other.getAttribute("data-theme")).toBe("dark");
    expect(root.hasAttribute("data-theme")).toBe(false);
  });

  it("applyTheme(loadTheme()) at start restores the saved choice", () => {
    localStorage.setItem("redchat.theme", "light");
    applyTheme(loadTheme());
    expect(root.getAttribute("data-theme")).toBe("light");
  });
});
