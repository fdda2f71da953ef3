// The shapes the window's model is made of: conversations, their entries, and the changes a
// batch of events makes (what the view redraws). Plain data, no DOM. See model.ts.

import type { ConversationId, HistoryCursor, Member, OutgoingState, Trust } from "./ipc";
import type { RequestState } from "./requests";
import { visibleName } from "./trust";

export type ConversationKind = "direct" | "room" | "channel";

/** How long a typing signal shows unless repeated (the core repeats it every 3 s while typing). */
export const TYPING_MS = 6000;

/** A conversation's kind, from the first character of its id: `@` direct, `#` room, `~` channel. */
export function kindOf(id: ConversationId): ConversationKind {
  if (id.startsWith("@")) return "direct";
  if (id.startsWith("#")) return "room";
  return "channel";
}

/** What the sidebar calls it: `bob`, `#team`, `~messages` (a raw channel keeps its `~`, so
 * the channel `bob` never looks like the person bob). */
export function titleOf(id: ConversationId): string {
  // Invisible and text-direction characters in a name are shown as codes, never applied.
  return kindOf(id) === "direct" ? visibleName(id.slice(1)) : id;
}

export interface Entry {
  id: string;
  /** system: someone joined or left a room, or a sender's key changed. */
  kind: "message" | "plain" | "unreadable" | "notice" | "system";
  /** Who wrote it (messages), the channel (plain/unreadable), who joined or left (system). */
  from: string;
  text: string;
  /** RFC 3339 time shown next to it. */
  time: string;
  /** Time order (ms since the epoch): the message's `at`, else the time received. */
  at: number;
  /** Sent by this user and signed by our key (from this or another device). */
  mine: boolean;
  /** Messages and membership lines: whether it comes from who it says (see ipc.Trust). */
  trust?: Trust;
  /** Says it is from this user but is not signed by our key (never shown as "(you)"). */
  claimsMe?: boolean;
  /** Why the sender's name is not an honest name. */
  senderIssue?: string;
  /** A contact whose name looks like this sender's. */
  lookalike?: string;
  /** A system line saying that `from`'s key changed. */
  keyChange?: boolean;
  /** A room message naming this user. */
  mention?: boolean;
  /** Where a message we sent stands (absent for our messages seen only in history or from another device). */
  delivery?: OutgoingState;
  /** Who a message we sent went to: the peer of a direct conversation, else the conversation id. */
  to?: string;
  /** Why sending it failed. */
  reason?: string;
  /** Extra line: the unreadable reason, a failed retry. */
  detail?: string;
  /** The original WPF client (no Redchat fields). */
  legacy?: boolean;
  /** When the sender sent it (RFC 3339), if it said. */
  sentAt?: string;
}

/**
 * Whether older messages of a conversation can be loaded. idle: yes, from `cursor` (null: from
 * the newest); end: nothing older; off: live-only mode keeps no history; none: raw channels
 * keep none.
 */
export type OlderState = "idle" | "loading" | "error" | "end" | "off" | "none";

export interface Older {
  state: OlderState;
  /** Cursor of this conversation's own history query (never one from another query). */
  cursor: HistoryCursor | null;
  error: string | null;
}

export interface Conversation {
  id: ConversationId;
  kind: ConversationKind;
  title: string;
  /** The other user of a direct conversation; null for rooms and channels. */
  peer: string | null;
  /** In time order, oldest first (live messages in the order they arrived). */
  entries: Entry[];
  /** From the core's `unread` events. */
  unread: number;
  mentions: number;
  /** When something last happened here (ms since the epoch), for ordering the sidebar. */
  lastActivity: number;
  /** Tie-breaker for `lastActivity`: higher is more recent. */
  seq: number;
  older: Older;
  /** Users typing here (normalised) and when their signal expires (ms since the epoch). */
  typing: Map<string, number>;
  /** Rooms: the member list, null until known. */
  members: Member[] | null;
  /** Rooms: garbage entries in the members set. */
  unreadableMembers: number;
  /** Rooms and channels: in the user's joined list. */
  joined: boolean;
  /** Direct conversations: a message request (listed under Requests) or not (see RequestState). */
  request: RequestState;
  /**
   * Showing older messages around a search hit, not the newest: live messages are not added
   * (the local store keeps them) until the user jumps to the latest.
   */
  detached?: boolean;
}

export type Change =
  | { conversation: ConversationId; appended: Entry[] }
  | { conversation: ConversationId; updated: Entry }
  /** Older entries added before the first one. */
  | { conversation: ConversationId; prepended: Entry[] }
  /** Entries inserted among the existing ones: re-render. */
  | { conversation: ConversationId; reordered: true }
  /** Who is typing here changed. */
  | { conversation: ConversationId; typing: true }
  | { conversation: ConversationId; members: true }
  | { conversation: ConversationId; unread: true }
  /** The joined list changed. */
  | { joined: true }
  /** Someone's online state changed. */
  | { presence: true }
  /** The who list changed. */
  | { who: true }
  /** What the Requests section counts changed (left out, blocked). */
  | { requests: true }
  /** `user`'s key changed (a contact panel showing them is out of date). */
  | { keyChanged: string };

/** The notice shown when a live-only message reached nobody. */
export function notDeliveredNotice(c: Pick<Conversation, "peer" | "id">): string {
  return c.peer !== null ? `${c.peer} is not active: the message was not delivered.` : `Nobody in ${c.id} is active: the message was not delivered.`;
}
