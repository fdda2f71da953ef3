// Measurement hooks for the firehose benchmark (tests/e2e/examples/firehose.rs). Off unless
// the benchmark switches them on through `window.__redchatProbe.start()`; when off, recording
// is a single boolean check.

export interface Probe {
  enabled: boolean;
  /** Publish → rendered, ms, one per chat message shown while enabled. */
  latencies: number[];
  /** requestAnimationFrame intervals, ms. */
  frames: number[];
  /** Chat messages received while enabled (rendered or not). */
  received: number;
  /** Milliseconds spent in the app's event handling (JS, DOM writes) while enabled. */
  busy: number;
  /** Milliseconds per named section, for finding where `busy` goes. */
  sections: Record<string, number>;
  /** The message list's rendered range, set by the app. */
  view: () => { start: number; end: number; total: number };
  /** Scrolls the message list to the top once (what a user's scroll does). */
  scrollTop: () => void;
  start(): void;
  stop(): void;
}

let last = 0;
function frame(ts: number): void {
  if (!probe.enabled) return;
  if (last) probe.frames.push(ts - last);
  last = ts;
  requestAnimationFrame(frame);
}

export const probe: Probe = {
  enabled: false,
  latencies: [],
  frames: [],
  received: 0,
  busy: 0,
  sections: {},
  view: () => ({ start: 0, end: 0, total: 0 }),
  scrollTop: () => undefined,
  start() {
    this.latencies = [];
    this.frames = [];
    this.received = 0;
    this.busy = 0;
    this.sections = {};
    this.enabled = true;
    last = 0;
    requestAnimationFrame(frame);
  },
  stop() {
    this.enabled = false;
  },
};

/** Records publish→rendered latency for `sentAt` values once the next frame is produced. */
export function recordRendered(sentAts: (string | undefined)[]): void {
  if (!probe.enabled) return;
  requestAnimationFrame((ts) => {
    const now = performance.timeOrigin + ts;
    for (const s of sentAts) {
      if (s) probe.latencies.push(now - Date.parse(s));
    }
  });
}

(window as unknown as { __redchatProbe: Probe }).__redchatProbe = probe;

/** Runs `f`, adding its duration to section `name` while the probe is on. */
export function timed<T>(name: string, f: () => T): T {
  if (!probe.enabled) return f();
  const began = performance.now();
  try {
    return f();
  } finally {
    probe.sections[name] = (probe.sections[name] ?? 0) + performance.now() - began;
  }
}
