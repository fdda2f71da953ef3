// The window's keyboard shortcuts, as Slack and Element have them: Ctrl+K (⌘K) the quick
// switcher, Alt+↑ / Alt+↓ the previous / next conversation in the sidebar, Ctrl+Shift+F
// (⌘⇧F) search everywhere, Ctrl+F (⌘F) search the open conversation, Esc closes the topmost
// panel. Enter sends and Shift+Enter starts a new line (composer.ts).

export type Shortcut = "switcher" | "previous" | "next" | "close" | "searchAll" | "searchHere";

/** The shortcut `e` presses, if any. */
export function shortcutOf(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey" | "isComposing">): Shortcut | null {
  if (e.isComposing) return null;
  const command = e.ctrlKey || e.metaKey;
  if (command && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k") return "switcher";
  if (command && !e.altKey && e.key.toLowerCase() === "f") return e.shiftKey ? "searchAll" : "searchHere";
  if (e.altKey && !command && !e.shiftKey) {
    if (e.key === "ArrowUp") return "previous";
    if (e.key === "ArrowDown") return "next";
  }
  if (e.key === "Escape" && !command && !e.altKey) return "close";
  return null;
}

/** The id `step` places away from `current` in `ids` (wrapping); the first one when `current` is not there. */
export function neighbour(ids: readonly string[], current: string | null, step: 1 | -1): string | null {
  if (ids.length === 0) return null;
  const at = current === null ? -1 : ids.indexOf(current);
  if (at === -1) return ids[0] ?? null;
  return ids[(at + step + ids.length) % ids.length] ?? null;
}
