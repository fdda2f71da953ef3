import { describe, expect, it, vi } from "vitest";
import { avatarColour, avatarElement, initials } from "../avatar";
import { ChatModel, type Conversation, type Entry } from "../model";
import type { SessionEvent } from "../ipc";
import { dayLabel, MessageList, renderEntry, WINDOW } from "./messages";

function chats(n: number, from = 0): SessionEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "chat" as const,
    id: `m${from + i}`,
    sender: "bob",
    to: "alice",
    content: `message ${from + i}`,
    sentAt: null,
    receivedAt: "2026-11-24T10:00:00Z",
    channel: "alice",
    legacy: false,
    durable: false,
    conversation: "@bob",
    room: null,
    mine: false,
    mentionsMe: false,
    at: 1_764_000_000_000 + from + i,
    trust: "signed" as const,
    request: false,
  }));
}

describe("MessageList windowing", () => {
  it("keeps the DOM bounded however long the conversation gets, and loses nothing", () => {
    const model = new ChatModel();
    const list = new MessageList();
    document.body.append(list.el);
    model.apply(chats(1));
    model.select("@bob");
    list.show(model.conversations.get("@bob") ?? null);
    // 10k messages arriving in frame-sized batches, as the shell sends them.
    for (let i = 1; i < 10_000; i += 160) {
      const changes = model.apply(chats(Math.min(160, 10_000 - i), i));
      for (const c of changes) if ("appended" in c) list.append(c.conversation, c.appended);
    }
    const rows = list.el.querySelectorAll("#messages > li");
    expect(rows.length).toBeLessThanOrEqual(WINDOW);
    expect(list.el.querySelectorAll("*").length).toBeLessThan(2000);
    expect(model.conversations.get("@bob")?.entries.length).toBe(10_000);
    expect(rows[rows.length - 1]?.textContent).toContain("message 9999");
    expect(list.range).toEqual({ start: 10_000 - WINDOW, end: 10_000, total: 10_000 });
    list.dispose();
  });
});

/** Local time on day `day` of November 2026 (30 November 2026 is a Monday), as RFC 3339. */
function at(day: number, hour: number, minute: number, second = 0): string {
  return new Date(2026, 10, day, hour, minute, second).toISOString();
}
/** "Now" for these tests: noon on Monday 30 November 2026, local time. */
const NOW = new Date(2026, 10, 30, 12, 0).getTime();
const now = () => NOW;

function msg(id: string, from: string, time: string, extra: Partial<Entry> = {}): Entry {
  return { id, kind: "message", from, text: `text ${id}`, time, at: Date.parse(time), mine: false, trust: "signed", ...extra };
}

function conversation(entries: Entry[]): Conversation {
  return {
    id: "@alice",
    kind: "direct",
    title: "@alice",
    peer: "alice",
    entries,
    unread: 0,
    mentions: 0,
    lastActivity: 0,
    seq: 0,
    older: { state: "end", cursor: null, error: null },
    typing: new Map(),
    members: null,
    unreadableMembers: 0,
    joined: false,
    request: "none",
  };
}

/** Rows of `list` by id: whether grouped, and the day separator's label if any. */
function layout(list: MessageList): { id: string; grouped: boolean; day: string | null }[] {
  return [...list.el.querySelectorAll<HTMLElement>("#messages > li.entry")].map((li) => ({
    id: li.dataset.id ?? "",
    grouped: li.classList.contains("grouped"),
    day: li.querySelector(":scope > .day-separator")?.textContent ?? null,
  }));
}

describe("grouping by sender", () => {
  it("folds a message 1 minute after the same sender's into its run", () => {
    const first = msg("a", "alice", at(30, 10, 0));
    const row = renderEntry(msg("b", "alice", at(30, 10, 1)), true, first, now);
    expect(row.classList.contains("grouped")).toBe(true);
    expect(row.querySelector(".avatar")).toBeNull();
    expect(row.querySelector(".day-separator")).toBeNull();
    // The name stays in the row (hidden by CSS only): screen readers and tests still read it.
    expect(row.querySelector(".meta .from")?.textContent).toBe("alice");
    expect(row.querySelector(".text")?.textContent).toBe("text b");
  });

  it("starts a new run 6 minutes later", () => {
    const row = renderEntry(msg("b", "alice", at(30, 10, 6)), true, msg("a", "alice", at(30, 10, 0)), now);
    expect(row.classList.contains("grouped")).toBe(false);
    expect(row.querySelector(".avatar")?.textContent).toBe("A");
  });

  it("starts a new run for a different sender", () => {
    const row = renderEntry(msg("b", "bob", at(30, 10, 1)), true, msg("a", "alice", at(30, 10, 0)), now);
    expect(row.classList.contains("grouped")).toBe(false);
    expect(row.querySelector(".avatar")?.textContent).toBe("B");
  });

  it("starts a new run after a system line", () => {
    const system: Entry = { id: "j", kind: "system", from: "carol", text: "carol joined", time: at(30, 10, 0), at: 0, mine: false, trust: "signed" };
    expect(renderEntry(msg("b", "alice", at(30, 10, 1)), true, system, now).classList.contains("grouped")).toBe(false);
  });

  it("an unsigned message under a trusted sender's name is not folded into their run", () => {
    const signed = msg("a", "alice", at(30, 10, 0));
    for (const extra of [{ trust: "unsigned" }, { trust: "invalid" }, { trust: "keyChanged" }, { claimsMe: true }, { lookalike: "alice" }, { senderIssue: "hidden characters" }] as const) {
      const row = renderEntry(msg("b", "alice", at(30, 10, 1), extra), true, signed, now);
      expect(row.classList.contains("grouped"), JSON.stringify(extra)).toBe(false);
    }
    // Nor does a trusted message join a run of ones that are not.
    expect(renderEntry(msg("b", "alice", at(30, 10, 1)), true, msg("a", "alice", at(30, 10, 0), { trust: "unsigned" }), now).classList.contains("grouped")).toBe(false);
    // A verified message does not join a signed one's run (its ✓ would be hidden).
    expect(renderEntry(msg("b", "alice", at(30, 10, 1), { trust: "verified" }), true, signed, now).classList.contains("grouped")).toBe(false);
  });

  it("does not fold across midnight: the next day starts with a separator", () => {
    const row = renderEntry(msg("b", "alice", at(30, 0, 1)), true, msg("a", "alice", at(29, 23, 59)), now);
    expect(row.classList.contains("grouped")).toBe(false);
    expect(row.classList.contains("new-day")).toBe(true);
    const separator = row.firstElementChild as HTMLElement;
    expect(separator.className).toBe("day-separator");
    expect(separator.getAttribute("role")).toBe("separator");
    expect(separator.getAttribute("aria-label")).toBe("Today");
    expect(separator.textContent).toBe("Today");
  });
});

describe("day separators", () => {
  it("says Today, Yesterday, or the long local date", () => {
    expect(dayLabel(Date.parse(at(30, 0, 0)), NOW)).toBe("Today");
    expect(dayLabel(Date.parse(at(30, 23, 59)), NOW)).toBe("Today");
    expect(dayLabel(Date.parse(at(29, 8, 0)), NOW)).toBe("Yesterday");
    const older = new Date(2026, 10, 24, 9, 0);
    expect(dayLabel(older.getTime(), NOW)).toBe(older.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" }));
  });

  it("starts the first entry and each new day, on every kind of row", () => {
    const first = msg("a", "alice", at(24, 9, 0));
    expect(renderEntry(first, true, undefined, now).querySelector(".day-separator")?.textContent).toContain("2026");
    const system: Entry = { id: "j", kind: "system", from: "carol", text: "carol joined", time: at(29, 9, 0), at: 0, mine: false, trust: "signed" };
    const notice: Entry = { id: "n", kind: "notice", from: "", text: "notice", time: at(30, 9, 0), at: 0, mine: false };
    expect(renderEntry(system, true, first, now).firstElementChild?.textContent).toBe("Yesterday");
    const noticeRow = renderEntry(notice, true, system, now);
    expect(noticeRow.firstElementChild?.textContent).toBe("Today");
    expect(noticeRow.querySelector(".avatar")).toBeNull();
    expect(renderEntry(system, true, undefined, now).querySelector(".avatar")).toBeNull();
  });

  it("puts no separator between rows of one day", () => {
    const row = renderEntry(msg("b", "bob", at(30, 18, 0)), true, msg("a", "alice", at(30, 6, 0)), now);
    expect(row.querySelector(".day-separator")).toBeNull();
    expect(row.classList.contains("new-day")).toBe(false);
  });
});

describe("MessageList runs and days", () => {
  it("groups and separates rows by their real predecessors", () => {
    const c = conversation([
      msg("a", "alice", at(29, 22, 0)),
      msg("b", "alice", at(29, 22, 1)),
      msg("c", "bob", at(29, 22, 2)),
      msg("d", "bob", at(30, 0, 1)),
      msg("e", "bob", at(30, 0, 2)),
    ]);
    const list = new MessageList({}, { now });
    list.show(c);
    expect(layout(list)).toEqual([
      { id: "a", grouped: false, day: "Yesterday" },
      { id: "b", grouped: true, day: null },
      { id: "c", grouped: false, day: null },
      { id: "d", grouped: false, day: "Today" },
      { id: "e", grouped: true, day: null },
    ]);
    list.dispose();
  });

  it("groups the first row of the window with its predecessor above the window", () => {
    const entries = Array.from({ length: WINDOW + 10 }, (_, i) => msg(`m${i}`, "alice", at(30, 10, 0, i % 60)));
    const list = new MessageList({}, { now });
    list.show(conversation(entries));
    expect(list.range.start).toBe(10);
    expect(layout(list)[0]).toEqual({ id: "m10", grouped: true, day: null });
    list.dispose();
  });

  it("renders the old first row again when older history arrives before it", () => {
    const c = conversation([msg("b", "alice", at(30, 10, 1)), msg("c", "alice", at(30, 10, 2))]);
    const list = new MessageList({}, { now });
    list.show(c);
    expect(layout(list)[0]).toEqual({ id: "b", grouped: false, day: "Today" });
    const older = [msg("a", "alice", at(30, 10, 0))];
    c.entries.unshift(...older);
    list.prepend(c.id, older);
    expect(layout(list)).toEqual([
      { id: "a", grouped: false, day: "Today" },
      { id: "b", grouped: true, day: null },
      { id: "c", grouped: true, day: null },
    ]);
    expect(list.el.querySelectorAll("#messages .avatar")).toHaveLength(1);
    list.dispose();
  });

  it("renders the next row again when an update changes whether it continues the run", () => {
    const c = conversation([msg("a", "alice", at(30, 10, 0)), msg("b", "alice", at(30, 10, 1)), msg("c", "alice", at(30, 10, 2))]);
    const list = new MessageList({}, { now });
    list.show(c);
    const b = c.entries[1] as Entry;
    b.trust = "invalid";
    list.update(c.id, b);
    expect(layout(list).map((r) => r.grouped)).toEqual([false, false, false]);
    list.dispose();
  });

  it("groups appended messages with the last row", () => {
    const c = conversation([msg("a", "alice", at(30, 10, 0))]);
    const list = new MessageList({}, { now });
    list.show(c);
    const fresh = [msg("b", "alice", at(30, 10, 1)), msg("c", "bob", at(30, 10, 2))];
    c.entries.push(...fresh);
    list.append(c.id, fresh);
    expect(layout(list).map((r) => r.grouped)).toEqual([false, true, false]);
    list.dispose();
  });

  it("announces new messages from others, not rows shown by opening or scrolling", () => {
    const c = conversation([msg("a", "alice", at(30, 10, 0))]);
    let now = 0;
    const list = new MessageList({}, { now: () => now });
    const announcer = list.el.querySelector("#announcer");
    expect(announcer?.getAttribute("aria-live")).toBe("polite");
    list.show(c);
    expect(announcer?.textContent).toBe("");
    const one = [msg("b", "bob", at(30, 10, 1), { text: "hello" })];
    c.entries.push(...one);
    list.append(c.id, one);
    expect(announcer?.textContent).toBe("bob: hello");
    const two = [msg("c", "carol", at(30, 10, 2)), msg("d", "dave", at(30, 10, 3))];
    now = 5000;
    c.entries.push(...two);
    list.append(c.id, two);
    expect(announcer?.textContent).toBe("2 new messages, the last from dave");
    // Within a second of the last: held, then told together.
    vi.useFakeTimers();
    const three = [msg("e", "erin", at(30, 10, 4))];
    now = 5100;
    c.entries.push(...three);
    list.append(c.id, three);
    expect(announcer?.textContent).toBe("2 new messages, the last from dave");
    now = 6000;
    vi.advanceTimersByTime(1000);
    expect(announcer?.textContent).toBe("erin: text e");
    vi.useRealTimers();
    list.dispose();
  });
});

describe("links in messages", () => {
  it("opens a clicked link through openLink and never navigates the window", () => {
    const opened: string[] = [];
    const c = conversation([msg("a", "alice", at(30, 10, 0), { text: "see https://example.com/docs." })]);
    const list = new MessageList({ openLink: (url) => opened.push(url) }, { now });
    document.body.append(list.el);
    list.show(c);
    const link = list.el.querySelector<HTMLAnchorElement>(".entry .text a.link");
    expect(link?.textContent).toBe("https://example.com/docs");
    const click = new MouseEvent("click", { bubbles: true, cancelable: true });
    link?.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    expect(opened).toEqual(["https://example.com/docs"]);
    const middle = new MouseEvent("auxclick", { bubbles: true, cancelable: true, button: 1 });
    link?.dispatchEvent(middle);
    expect(middle.defaultPrevented).toBe(true);
    expect(opened).toHaveLength(2);
    list.dispose();
  });

  it("a javascript: link in a message is plain text", () => {
    const row = renderEntry(msg("a", "alice", at(30, 10, 0), { text: "javascript:alert(document.cookie)" }), true, undefined, now);
    expect(row.querySelector("a")).toBeNull();
    expect(row.querySelector(".text")?.textContent).toBe("javascript:alert(document.cookie)");
  });

  it("html in a message is shown as text, code and all", () => {
    const text = "<b>hi</b> `<img src=x onerror=alert(1)>` https://x.y/\"><img src=x onerror=alert(1)>";
    const row = renderEntry(msg("a", "alice", at(30, 10, 0), { text }), true, undefined, now);
    expect(row.querySelector("b, img, script")).toBeNull();
    expect(row.querySelector(".text")?.textContent).toBe(text.replace(/`/g, ""));
  });

  it("shows raw channel lines exactly, without marks", () => {
    const row = renderEntry({ id: "p", kind: "plain", from: "logs", text: "`x` https://example.com", time: at(30, 10, 0), at: 0, mine: false }, true, undefined, now);
    expect(row.querySelector(".text code, .text a")).toBeNull();
    expect(row.querySelector(".avatar")).toBeNull();
  });
});

describe("avatars", () => {
  it("shows one or two initials, whole graphemes, in any script", () => {
    for (const [name, want] of [
      ["alice", "A"],
      ["alice smith", "AS"],
      ["bob.the.builder", "BT"],
      ["jean-luc_picard", "JL"],
      ["émile zola", "ÉZ"],
      ["δέλτα άλφα", "ΔΆ"],
      ["李小龙", "李"],
      ["иван", "И"],
      ["👩‍💻 dev", "👩‍💻D"],
      ["🇫🇷.fan", "🇫🇷F"],
      ["\u202Emallory", "M"],
      ["__", "?"],
      ["", "?"],
    ] as const) {
      expect(initials(name), name).toBe(want);
    }
  });

  it("is aria-hidden, with a colour from the normalised name", () => {
    const avatar = avatarElement("Alice");
    expect(avatar.className).toBe("avatar");
    expect(avatar.getAttribute("aria-hidden")).toBe("true");
    expect(avatar.getAttribute("style") ?? "").not.toBe("");
    expect(avatarColour("Alice")).toBe(avatarColour("alice"));
    expect(avatarColour(" alice ")).toBe(avatarColour("alice"));
    expect(avatarColour("alice")).toBe(avatarColour("alice"));
    const colours = new Set(["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor", "walter"].map(avatarColour));
    expect(colours.size).toBeGreaterThan(10);
  });

  it("keeps white initials at WCAG AA contrast (4.5:1) on every colour", () => {
    const names = Array.from({ length: 2000 }, (_, i) => `user${i}`).concat(["alice", "bob", "李小龙", "👩‍💻"]);
    for (const name of names) {
      const colour = avatarColour(name);
      const m = /^hsl\((\d+), (\d+)%, (\d+)%\)$/.exec(colour);
      expect(m, colour).not.toBeNull();
      const [r, g, b] = hslTo8Bit(Number(m?.[1]), Number(m?.[2]), Number(m?.[3]));
      expect(contrastWithWhite(r, g, b), `${name}: ${colour}`).toBeGreaterThanOrEqual(4.5);
    }
  });
});

/** hsl() as the browser paints it: 8-bit sRGB channels (an independent conversion). */
function hslTo8Bit(h: number, s: number, l: number): [number, number, number] {
  const c = (1 - Math.abs((2 * l) / 100 - 1)) * (s / 100);
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l / 100 - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

function contrastWithWhite(r: number, g: number, b: number): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return 1.05 / (lum + 0.05);
}
