// The firehose benchmark's baseline page (docs/benchmarks.md §3): the same WebKit, the same
// shell and IPC channel, but the least a chat page can do: one row per batch, the newest kept
// in view, publish→rendered measured by the same probe. Opened as index.html#baseline.

import * as ipc from "./ipc";
import { probe, recordRendered } from "./probe";

/** Rows kept (the real window keeps about as many rendered). */
const ROWS = 150;

export function mountBaseline(root: HTMLElement): void {
  const list = document.createElement("ol");
  list.id = "baseline";
  list.style.cssText = "height: 100vh; margin: 0; overflow-y: auto; font: 14px sans-serif";
  root.append(list);
  const onBatch = (batch: ipc.SessionEvent[]): void => {
    const sent: (string | undefined)[] = [];
    let last = "";
    for (const event of batch) {
      if (event.kind !== "chat") continue;
      sent.push(event.sentAt ?? undefined);
      last = event.content;
    }
    if (sent.length === 0) return;
    if (probe.enabled) probe.received += sent.length;
    const row = document.createElement("li");
    row.textContent = last;
    list.append(row);
    if (list.childElementCount > ROWS) list.firstElementChild?.remove();
    list.scrollTop = list.scrollHeight;
    recordRendered(sent);
  };
  (window as unknown as { __redchatBaseline: unknown }).__redchatBaseline = {
    connect: (connection: string, username: string) => ipc.connect({ connection, username, namespace: "", delivery: "durable", sharePresence: false }, onBatch),
  };
}
