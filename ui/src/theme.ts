// The colour theme: follow the system (prefers-color-scheme) unless the user picked light or
// dark. The palettes live in style.css; this only sets `data-theme` on <html>, which style.css
// reads ("light" forces light on a dark system, "dark" forces dark; none follows the system).
// The choice is kept in localStorage and, when the user makes it, by the shell too (prefs.ts);
// it is not part of the connection profile.

import { remember } from "./prefs";

export type ThemeChoice = "system" | "light" | "dark";

/** The choices, in the order the settings form lists them. */
export const THEME_CHOICES: readonly { choice: ThemeChoice; label: string }[] = [
  { choice: "system", label: "Follow the system" },
  { choice: "light", label: "Light" },
  { choice: "dark", label: "Dark" },
];

const STORAGE_KEY = "redchat.theme";

/** `value` as a choice; anything else (missing, stale, edited by hand) follows the system. */
export function parseTheme(value: string | null | undefined): ThemeChoice {
  return THEME_CHOICES.some(({ choice }) => choice === value) ? (value as ThemeChoice) : "system";
}

/** The saved choice; "system" when none is saved or storage cannot be read. */
export function loadTheme(): ThemeChoice {
  try {
    return parseTheme(localStorage.getItem(STORAGE_KEY));
  } catch {
    // Storage disabled (private mode, a locked-down webview): follow the system.
    return "system";
  }
}

/**
 * Shows `choice` at once (sets or removes `data-theme` on `root`) and saves it for next start.
 * A choice that cannot be saved still applies for this session.
 */
/** The user picked `choice` (Settings): applied now, kept across restarts. */
export function chooseTheme(choice: ThemeChoice): void {
  applyTheme(choice);
  remember(STORAGE_KEY, choice);
}

export function applyTheme(choice: ThemeChoice, root: HTMLElement = document.documentElement): void {
  if (choice === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", choice);
  try {
    localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    // Not saved: the next start follows the system again.
  }
}
