// One measured import (docs/benchmarks.md, "Cloud bills"): a generated bill uploaded through
// Outlay's own API as a multipart upload (POST /api/v1/cloud/imports {upload: "multipart", size},
// PUT each part, POST …/complete), then GET /api/v1/cloud/imports/{id} every 250 ms until it ends.
// Timed from the completion's answer to the first poll that sees `done`; meanwhile the memory of
// Outlay's process tree and isolate is sampled (cloud-memory.ts) and its CPU counted. Then the
// spend API's total for the month is compared with the generator's exact sum.
import { open } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { settle, treeCpuMs, watchForeignLoad } from "./cpu.ts";
import { type HeapProbe, type MemoryPeaks, rssNow, watchMemory } from "./cloud-memory.ts";
import { log } from "./points.ts";
import { sleep } from "./procs.ts";
import { type Latency, latencyOf } from "./cloud-stats.ts";

export type CloudApi = { base: string; token: string };

export type ImportView = {
  id: string;
  status: string;
  format: string | null;
  rows_read: number;
  rows_stored: number;
  bytes_total: number;
  warning_count: number;
  error: { code: string; message: string } | null;
  started_at: string | null;
  finished_at: string | null;
};

export type ImportRun = {
  format: string;
  fileBytes: number;
  parts: number;
  uploadMs: number;
  /** the completion's request sent → its answer */
  completeMs: number;
  /** GET /api/v1/cloud/imports/{id} while the import ran (answered by the same isolate) */
  poll: Latency;
  /** the completion's request sent → the first poll seeing done */
  importMs: number;
  /** the import's own started_at → finished_at */
  runMs: number;
  rowsRead: number;
  rowsStored: number;
  rowsPerSecond: number;
  warnings: number;
  status: string;
  error: string | null;
  cpuMs: number;
  foreignCpuPct: number;
  memory: MemoryPeaks;
  /** spend API total for the month vs the generator's sum, nano-USD */
  spendTotalNano: string;
  expectedTotalNano: string;
};

async function call(
  api: CloudApi,
  method: string,
  path: string,
  body?: BodyInit,
  json = true,
  timeoutMs = 300_000,
): Promise<unknown> {
  const headers: Record<string, string> = { authorization: `Bearer ${api.token}` };
  if (json && body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${api.base}${path}`, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

export async function getImport(api: CloudApi, id: string): Promise<ImportView> {
  return (await call(api, "GET", `/api/v1/cloud/imports/${id}`)) as ImportView;
}

/** Uploads the file in parts; returns the import's id once every part is in (not completed). */
async function upload(api: CloudApi, path: string, size: number, name: string): Promise<{ id: string; parts: number }> {
  const created = (await call(
    api,
    "POST",
    "/api/v1/cloud/imports",
    JSON.stringify({ upload: "multipart", size, file_name: name }),
  )) as ImportView & { parts: { part_number: number; url: string; size: number }[] };
  const file = await open(path, "r");
  try {
    let offset = 0;
    for (const part of created.parts) {
      const bytes = Buffer.alloc(part.size);
      const { bytesRead } = await file.read(bytes, 0, part.size, offset);
      if (bytesRead !== part.size) throw new Error(`${path}: short read at ${offset}`);
      offset += part.size;
      await call(api, "PUT", part.url, bytes, false);
    }
  } finally {
    await file.close();
  }
  return { id: created.id, parts: created.parts.length };
}

/** "12.345678901" (the spend API's exact decimal) as nano-units. */
export function decimalNano(text: string): bigint {
  const negative = text.startsWith("-");
  const [whole = "0", fraction = ""] = text.replace(/^[+-]/, "").split(".");
  if (fraction.length > 9) throw new Error(`cost ${text} has more than 9 decimals`);
  const nano = BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, "0") || "0");
  return negative ? -nano : nano;
}

export async function spendTotal(api: CloudApi, from: string, to: string): Promise<bigint> {
  const body = (await call(api, "GET", `/api/v1/cloud/spend?from=${from}&to=${to}`)) as {
    data: { cost: string; currency: string }[];
  };
  return body.data.reduce((sum, row) => sum + decimalNano(row.cost), 0n);
}

export type ImportInput = {
  api: CloudApi;
  root: number;
  heap: HeapProbe | null;
  path: string;
  size: number;
  name: string;
  format: string;
  /** for the total check: the month's first and last day, and the generator's sum */
  from: string;
  to: string;
  expectedTotalNano: string;
  maxMs: number;
};

/** An import that never reached done or failed (Outlay died, or the bench gave up waiting). */
export function crashedRun(format: string, size: number, message: string, expectedTotalNano: string): ImportRun {
  const none = {
    requests: 0,
    p50Ms: Number.NaN,
    p95Ms: Number.NaN,
    p99Ms: Number.NaN,
    maxMs: Number.NaN,
    meanMs: Number.NaN,
  };
  const rss = { workerdKb: 0, treeKb: 0 };
  return {
    format,
    fileBytes: size,
    parts: 0,
    uploadMs: Number.NaN,
    completeMs: Number.NaN,
    importMs: Number.NaN,
    poll: none,
    runMs: Number.NaN,
    rowsRead: 0,
    rowsStored: 0,
    rowsPerSecond: 0,
    warnings: 0,
    status: "crashed",
    error: message,
    cpuMs: Number.NaN,
    foreignCpuPct: Number.NaN,
    memory: {
      baseline: { ...rss, heapBytes: null },
      peakWorkerdKb: 0,
      peakTreeKb: 0,
      peakHeapBytes: null,
      peakLiveHeapBytes: null,
      samples: 0,
      heapSamples: 0,
    },
    spendTotalNano: "0",
    expectedTotalNano,
  };
}

export async function measureImport(input: ImportInput): Promise<ImportRun> {
  const { api, root } = input;
  const uploadStart = performance.now();
  const { id, parts } = await upload(api, input.path, input.size, input.name);
  const uploadMs = performance.now() - uploadStart;
  log(`${input.format}: ${parts} parts uploaded in ${(uploadMs / 1000).toFixed(1)} s; waiting for Outlay to go quiet`);
  await settle(root, 20_000);
  const heapBaseline = input.heap ? await input.heap.usedBytes() : null;
  const baseline = { ...rssNow(root), heapBytes: heapBaseline };
  const memory = watchMemory(root, input.heap, baseline);
  const foreign = watchForeignLoad([root]);
  const cpuBefore = treeCpuMs(root);
  const began = performance.now();
  // Under Miniflare this answer comes only when the import has ended (docs/benchmarks.md says why).
  const completing = call(api, "POST", `/api/v1/cloud/imports/${id}/complete`, undefined, true, input.maxMs);
  let completeMs = Number.NaN;
  const completed = completing.then(() => {
    completeMs = performance.now() - began;
  });
  let view = await getImport(api, id);
  let lastLog = began;
  const pollMs: number[] = [];
  while (view.status === "queued" || view.status === "running") {
    if (performance.now() - began > input.maxMs)
      throw new Error(`${input.format} import not done in ${input.maxMs} ms`);
    await sleep(250);
    const t0 = performance.now();
    view = await getImport(api, id);
    pollMs.push(performance.now() - t0);
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      const s = (lastLog - began) / 1000;
      log(`${input.format}: ${view.status}, ${view.rows_read.toLocaleString("en")} rows after ${s.toFixed(0)} s`);
    }
  }
  const importMs = performance.now() - began;
  await completed;
  const cpuMs = treeCpuMs(root) - cpuBefore;
  const foreignCpuPct = foreign();
  const peaks = await memory.stop();
  const started = view.started_at ? Date.parse(view.started_at) : NaN;
  const finished = view.finished_at ? Date.parse(view.finished_at) : NaN;
  const total = view.status === "done" ? await spendTotal(api, input.from, input.to) : 0n;
  return {
    format: input.format,
    fileBytes: input.size,
    parts,
    uploadMs,
    completeMs,
    poll: latencyOf(pollMs),
    importMs,
    runMs: finished - started,
    rowsRead: view.rows_read,
    rowsStored: view.rows_stored,
    rowsPerSecond: view.rows_read / (importMs / 1000),
    warnings: view.warning_count,
    status: view.status,
    error: view.error ? `${view.error.code}: ${view.error.message}` : null,
    cpuMs,
    foreignCpuPct,
    memory: peaks,
    spendTotalNano: total.toString(),
    expectedTotalNano: input.expectedTotalNano,
  };
}
