// The window's own preferences (the theme, muted conversations): read from localStorage, which
// is synchronous and there before the first paint, and kept by the shell too (`prefs.json`):
// WebKit writes localStorage to disk lazily, so a preference set just before Redchat is
// killed or crashes would be lost. At start the shell's copy wins.

import * as ipc from "./ipc";

/** Sets preference `key` (a `redchat.` localStorage key) here and in the shell. */
export function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // The shell's copy still holds it.
  }
  ipc.savePref(key, value).catch(() => undefined);
}

/** Copies the shell's preferences into localStorage; resolves to whether any changed. */
export async function restore(): Promise<boolean> {
  let saved: Record<string, string>;
  try {
    saved = await ipc.loadPrefs();
  } catch {
    return false;
  }
  let changed = false;
  for (const [key, value] of Object.entries(saved ?? {})) {
    if (!key.startsWith("redchat.") || typeof value !== "string") continue;
    try {
      if (localStorage.getItem(key) !== value) {
        localStorage.setItem(key, value);
        changed = true;
      }
    } catch {
      // Full or refused: the page keeps what it has.
    }
  }
  return changed;
}
