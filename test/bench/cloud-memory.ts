// Memory of Outlay while it imports a bill (docs/benchmarks.md, "Cloud bills"): the resident set
// of the workerd process and of the whole host tree (Miniflare's Node host + workerd), sampled
// from /proc every 200 ms, as cpu.ts samples CPU; and the V8 heap of Outlay's isolate (the
// Worker and its Workflow share it) through the inspector's `Runtime.getHeapUsage`, every 250 ms
// (every 4th time right after `HeapProfiler.collectGarbage`, for the live heap).
import { readFileSync } from "node:fs";
import { processTree } from "./cpu.ts";

type Send = (method: string, params?: object) => Promise<unknown>;

function rssKb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    return Number(line?.split(/\s+/)[1] ?? 0);
  } catch {
    return 0;
  }
}

export type RssNow = { workerdKb: number; treeKb: number };

export function rssNow(root: number): RssNow {
  let workerdKb = 0;
  let treeKb = 0;
  for (const p of processTree(root)) {
    const kb = rssKb(p.pid);
    treeKb += kb;
    if (p.comm.startsWith("workerd")) workerdKb += kb;
  }
  return { workerdKb, treeKb };
}

/** A minimal Chrome DevTools Protocol client (as audit-profile.ts), for the isolate's heap. */
export type HeapProbe = {
  /** V8 heap in use (garbage not yet collected included); null when the inspector did not answer */
  usedBytes: (afterGc?: boolean) => Promise<number | null>;
  close: () => void;
};

export async function heapProbe(port: number): Promise<HeapProbe> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    webSocketDebuggerUrl?: string;
    title?: string;
  }[];
  const target = list.find((t) => t.webSocketDebuggerUrl && (t.title ?? "").includes("outlay")) ?? list[0];
  const url = target?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const init = { headers: { origin: "http://127.0.0.1" } } as unknown as string[];
  const socket = new WebSocket(url, init);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  const waiting = new Map<number, (value: unknown) => void>();
  socket.addEventListener("message", (event: MessageEvent) => {
    const data: unknown = event.data;
    const text = data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
    const message = JSON.parse(text) as { id?: number; result?: unknown; error?: unknown };
    if (message.id === undefined) return;
    waiting.get(message.id)?.(message.error ? null : message.result);
    waiting.delete(message.id);
  });
  let next = 1;
  const send: Send = (method, params = {}) =>
    new Promise((resolve) => {
      const id = next;
      next += 1;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
      setTimeout(() => {
        if (waiting.delete(id)) resolve(null);
      }, 2_000);
    });
  return {
    usedBytes: async (afterGc = false) => {
      if (afterGc) await send("HeapProfiler.collectGarbage");
      const result = (await send("Runtime.getHeapUsage")) as { usedSize?: number } | null;
      return typeof result?.usedSize === "number" ? result.usedSize : null;
    },
    close: () => socket.close(),
  };
}

export type MemoryPeaks = {
  /** before the measured import, Outlay idle */
  baseline: RssNow & { heapBytes: number | null };
  peakWorkerdKb: number;
  peakTreeKb: number;
  /** null when the inspector did not answer */
  peakHeapBytes: number | null;
  /** the same, read right after a forced collection (every 4th heap sample): live objects only */
  peakLiveHeapBytes: number | null;
  samples: number;
  /** heap samples answered: the inspector is served only when the isolate is between tasks */
  heapSamples: number;
};

/** Samples until `stop()` is called; returns the peaks. */
export function watchMemory(
  root: number,
  heap: HeapProbe | null,
  baseline: MemoryPeaks["baseline"],
): { stop: () => Promise<MemoryPeaks> } {
  const peaks: MemoryPeaks = {
    baseline,
    peakWorkerdKb: 0,
    peakTreeKb: 0,
    peakHeapBytes: null,
    peakLiveHeapBytes: null,
    samples: 0,
    heapSamples: 0,
  };
  const rssTimer = setInterval(() => {
    const now = rssNow(root);
    peaks.peakWorkerdKb = Math.max(peaks.peakWorkerdKb, now.workerdKb);
    peaks.peakTreeKb = Math.max(peaks.peakTreeKb, now.treeKb);
    peaks.samples += 1;
  }, 200);
  // One heap request at a time: while the isolate is busy the inspector does not answer, and
  // requests must not queue up behind it (each gives up after 2 s).
  let heapRunning: Promise<void> | null = null;
  const sampleHeap = async (probe: HeapProbe): Promise<void> => {
    const afterGc = peaks.heapSamples % 4 === 3;
    const used = await probe.usedBytes(afterGc);
    if (used === null) return;
    peaks.heapSamples += 1;
    peaks.peakHeapBytes = Math.max(peaks.peakHeapBytes ?? 0, used);
    if (afterGc) peaks.peakLiveHeapBytes = Math.max(peaks.peakLiveHeapBytes ?? 0, used);
  };
  const heapTimer = heap
    ? setInterval(() => {
        if (heapRunning) return;
        heapRunning = sampleHeap(heap).finally(() => {
          heapRunning = null;
        });
      }, 250)
    : null;
  return {
    stop: async () => {
      clearInterval(rssTimer);
      if (heapTimer) clearInterval(heapTimer);
      await heapRunning;
      return peaks;
    },
  };
}
