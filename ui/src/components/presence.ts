// The online dot shown next to a user (sidebar direct messages, room members, the who list):
// `.presence-dot.online` (green) or `.presence-dot.offline` (grey, "last seen …" on hover),
// with data-user naming the user.

import { h } from "../dom";
import { localDateTime } from "../format";
import type { Member } from "../ipc";

/** What hovering the dot says. */
export function presenceTitle(member: Member | undefined): string {
  if (member?.online) return "online";
  if (member?.lastSeen) return `last seen ${localDateTime(member.lastSeen)}`;
  return "offline";
}

export function presenceDot(user: string, member: Member | undefined): HTMLElement {
  const dot = h("span", { "data-user": user, role: "img" });
  setPresence(dot, member);
  return dot;
}

/** Updates `dot` in place (only what changed, so a refresh every few seconds costs nothing). */
export function setPresence(dot: HTMLElement, member: Member | undefined): void {
  const className = `presence-dot ${member?.online ? "online" : "offline"}`;
  if (dot.className !== className) dot.className = className;
  const title = presenceTitle(member);
  if (dot.title !== title) {
    dot.title = title;
    dot.setAttribute("aria-label", title);
  }
}
