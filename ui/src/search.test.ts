// Search, open in context, export, and the bounded window model (issue 11).

import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { ChatModel, KEEP, TRIM_SLACK } from "./model";
import { highlighted, matchRanges } from "./components/search";
import { chat, el, type Harness, message, settle, start, text } from "./test/harness";

let harness: Harness | null = null;

afterEach(() => {
  harness?.app.dispose();
  harness = null;
  clearMocks();
  document.body.replaceChildren();
});

function key(k: string, extra: Partial<KeyboardEventInit> = {}): void {
  window.dispatchEvent(new KeyboardEvent("keydown", { key: k, ctrlKey: true, bubbles: true, ...extra }));
}

async function searchFor(query: string): Promise<void> {
  const input = el<HTMLInputElement>("#search-input");
  input.value = query;
  input.dispatchEvent(new Event("input"));
  await new Promise((r) => setTimeout(r, 200));
  await settle();
}

const hit = message({ id: "old1", sender: "bob", content: "@alice the <b>deploy</b> went fine, deployment done", sentAt: "2026-11-01T10:00:00Z", conversation: "@bob" });

describe("highlighting", () => {
  it("marks word starts of the words searched for, case-blind", () => {
    expect(matchRanges("Deploy the redeploy; deployment", ["deploy"])).toEqual([
      [0, 6],
      [21, 27],
    ]);
    expect(matchRanges("nothing", [])).toEqual([]);
  });

  it("hostile_markup_in_a_hit_is_text_nodes_only", () => {
    const nodes = highlighted("<img src=x onerror=alert(1)> deploy", ["deploy"]);
    const box = document.createElement("div");
    box.append(...nodes);
    expect(box.querySelector("img")).toBeNull();
    expect(box.querySelectorAll("mark.hit")).toHaveLength(1);
    expect(box.textContent).toBe("<img src=x onerror=alert(1)> deploy");
  });

  it("cuts long text around the first match", () => {
    const long = `${"x ".repeat(400)}needle${" y".repeat(400)}`;
    const box = document.createElement("div");
    box.append(...highlighted(long, ["needle"]));
    expect(box.textContent?.length).toBeLessThan(260);
    expect(box.querySelector("mark")?.textContent).toBe("needle");
  });
});

describe("search in the window", () => {
  it("Ctrl+Shift+F searches everywhere, shows hits with marks, and opens one in context", async () => {
    harness = await start({
      search: () => ({ hits: [hit], words: ["deploy"], more: false }),
      message_context: () => ({ messages: [message({ id: "older", sender: "bob", content: "@alice before it", sentAt: "2026-11-01T09:59:00Z", conversation: "@bob" }), hit], more: { local: "1" }, newer: true }),
    });
    key("F", { shiftKey: true });
    expect(el("#search").hidden).toBe(false);
    await searchFor("deploy from:bob");
    expect(harness.callsOf("search")[0]).toMatchObject({ query: "deploy from:bob", conversation: null, limit: 50 });
    const li = el("#search-results li.search-hit");
    expect(li.dataset.id).toBe("old1");
    expect([...li.querySelectorAll("mark.hit")].map((m) => m.textContent)).toEqual(["deploy", "deploy"]);
    expect(li.querySelector("b")).toBeNull();
    li.click();
    await settle();
    expect(el("#search").hidden).toBe(true);
    expect(harness.callsOf("message_context")).toEqual([{ conversation: "@bob", id: "old1" }]);
    expect(text("#conversation-title")).toBe("@bob");
    expect(el("#messages .entry[data-id='old1']").classList.contains("found")).toBe(true);
    // Older messages are shown: live ones wait in the store, and the view offers the latest.
    expect(el("#jump-latest").hidden).toBe(false);
    harness.push([chat("new while reading old", "bob", "live1")]);
    await settle();
    expect(document.querySelector("#messages .entry[data-id='live1']")).toBeNull();
    el("#jump-latest").click();
    await settle();
    expect(harness.callsOf("history").at(-1)).toMatchObject({ conversation: "@bob", before: null });
  });

  it("Ctrl+F searches the open conversation; a query that cannot run says why", async () => {
    harness = await start({
      search: (_cmd, args) => {
        if (String(args.query).includes("before:")) throw { code: "invalid_search", message: '"someday" is not a date: write it as 2026-12-01 (year-month-day)' };
        return { hits: [], words: [], more: false };
      },
    });
    harness.push([chat("hello", "bob", "b1")]);
    await settle();
    key("f");
    expect(text("#search-scope")).toContain("In bob");
    await searchFor("x before:someday");
    expect(harness.callsOf("search")[0]).toMatchObject({ conversation: "@bob" });
    expect(text("#search-status")).toContain("not a date");
    el("#search-everywhere").click();
    await settle();
    expect(harness.callsOf("search").at(-1)).toMatchObject({ conversation: null });
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(el("#search").hidden).toBe(true);
  });

  it("a local store problem is a warning that stays until dismissed", async () => {
    harness = await start();
    harness.push([{ kind: "notice", code: "local_store", text: "The local message store was damaged; it was moved to /x and a new one is filled from Redis. Chatting goes on." }]);
    await settle();
    expect(text("#warnings [data-code='local_store']")).toContain("moved to /x");
  });

  it("exports a conversation or everything through the shell's save dialog", async () => {
    harness = await start({ export_messages: (_cmd, args) => ({ path: `/home/u/redchat-${String(args.conversation ?? "all")}.${String(args.format)}`, count: 3 }) });
    harness.push([chat("hello", "bob", "b1")]);
    await settle();
    key("f");
    el<HTMLSelectElement>("#export-format").value = "csv";
    el("#export-run").click();
    await settle();
    expect(harness.callsOf("export_messages")).toEqual([{ conversation: "@bob", format: "csv" }]);
    el<HTMLSelectElement>("#export-scope").value = "";
    el("#export-run").click();
    await settle();
    expect(harness.callsOf("export_messages")[1]).toEqual({ conversation: null, format: "csv" });
  });
});

describe("the bounded model", () => {
  function flood(model: ChatModel, n: number, from = 0): void {
    const batch: ipc.SessionEvent[] = [];
    for (let i = from; i < from + n; i++) batch.push({ kind: "chat", ...message({ id: `m${i}`, sender: "bob", content: `@alice ${i}`, sentAt: new Date(1_800_000_000_000 + i).toISOString(), conversation: "@bob", at: 1_800_000_000_000 + i }) });
    model.apply(batch);
  }

  it("keeps KEEP entries per conversation and pages the rest back from the store", () => {
    const model = new ChatModel();
    model.me = "alice";
    flood(model, KEEP + TRIM_SLACK - 1);
    expect(model.trim("@bob", Infinity)).toBe(0);
    flood(model, 10, KEEP + TRIM_SLACK - 1);
    const dropped = model.trim("@bob", Infinity);
    const c = model.conversations.get("@bob")!;
    expect(dropped).toBe(TRIM_SLACK + 9);
    expect(c.entries).toHaveLength(KEEP);
    expect(c.older).toEqual({ state: "idle", cursor: { local: String(c.entries[0]!.at) }, error: null });
    // A live copy of a dropped message is not held twice when history brings it back.
    const back = model.mergeHistory([message({ id: "m0", sender: "bob", content: "@alice 0", conversation: "@bob", at: 1_800_000_000_000 })]);
    expect(back).toHaveLength(1);
    expect(c.entries[0]!.id).toBe("m0");
  });

  it("a view reading up the history keeps everything it shows", () => {
    const model = new ChatModel();
    model.me = "alice";
    flood(model, KEEP + TRIM_SLACK + 10);
    expect(model.trim("@bob", 0)).toBe(0);
    expect(model.trim("@bob", 100)).toBe(100);
  });
});
