// How the dashboard benchmark times its pages: each page is first checked (status 200, its
// content type, the text it must contain, its size as sent and gzipped), then every page gets a
// warm-up, then the measured requests are sent at concurrency 1 in rounds (each round a share of
// every page's requests, pages in turn), so that load from outside the bench falls on all pages
// alike. A page that runs past its time budget stops early with what it has (at least 3); a page
// whose first answer alone took longer than the budget is not measured further (its one time is
// reported); a request that fails or times out ends its page's measurement with that reason.
import { gzipSync } from "node:zlib";
import { treeCpuMs, watchForeignLoad } from "./cpu.ts";
import { PageClient, type Stats, stats } from "./dashboard-client.ts";
import type { PageSpec } from "./dashboard-pages.ts";

export type PageCheck = {
  bytes: number;
  gzipBytes: number;
  contentType: string;
  serverTiming: string | null;
  /** wall time of this first request (cold: nothing of this page cached yet) */
  ms: number;
};

export type PageResult = {
  id: string;
  title: string;
  path: string;
  check: PageCheck;
  requests: number;
  latency: Stats;
  /** CPU of the Worker's process tree (Miniflare host and workerd) per request, ms */
  hostCpuMsPerRequest: number;
  /** CPU other processes used while this page was measured, % of one CPU */
  foreignCpuPct: number;
  /** p50 of each Server-Timing metric's dur, when the page sent one */
  serverTiming: Record<string, number>;
  stoppedEarly: boolean;
  /** why the page was not measured to the end: its first answer took longer than the budget, or a request failed */
  failure: string | null;
};

export type MeasureOptions = {
  origin: string;
  cookie: string;
  requests: number;
  warmup: number;
  rounds: number;
  pageBudgetS: number;
  timeoutMs: number;
  hostPid: number;
  log: (line: string) => void;
};

/** One real request per page: the answer must be the page (not an error or a sign-in page). */
export async function checkPage(page: PageSpec, origin: string, cookie: string, timeoutMs: number): Promise<PageCheck> {
  const began = performance.now();
  const res = await fetch(`${origin}${page.path}`, {
    headers: { ...(page.session === false ? {} : { cookie }), ...page.headers },
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - began;
  const text = body.toString("utf8");
  const contentType = res.headers.get("content-type") ?? "";
  const fail = (why: string): never => {
    throw new Error(`${page.id} (${page.path}): ${why}; status ${res.status}, body: ${text.slice(0, 300)}`);
  };
  if (res.status !== 200) fail("expected status 200");
  if (!contentType.startsWith(page.contentType ?? "text/html")) fail(`content type ${contentType}`);
  if (!text.includes(page.expect)) fail(`no "${page.expect}" in the answer`);
  const fragment = page.headers?.["hx-request"] === "true";
  if (contentType.startsWith("text/html") && fragment === /<!doctype html/i.test(text)) {
    fail(fragment ? "an htmx request got the whole page" : "not a whole page");
  }
  const serverTiming = res.headers.get("server-timing");
  return { bytes: body.length, gzipBytes: gzipSync(body).length, contentType, serverTiming, ms };
}

function timingMetrics(headers: readonly string[]): Record<string, number> {
  const perMetric = new Map<string, number[]>();
  for (const header of headers) {
    for (const part of header.split(",")) {
      const name = part.split(";")[0]?.trim();
      const dur = /;\s*dur=([\d.]+)/.exec(part)?.[1];
      if (name && dur) perMetric.set(name, [...(perMetric.get(name) ?? []), Number(dur)]);
    }
  }
  return Object.fromEntries([...perMetric].map(([name, values]) => [name, stats(values).p50Ms]));
}

type Running = {
  page: PageSpec;
  client: PageClient;
  samples: number[];
  timings: string[];
  cpuMs: number;
  foreignPctMs: number;
  wallMs: number;
  stoppedEarly: boolean;
  failure: string | null;
};

const MIN_SAMPLES = 3;

async function send(run: Running, path: string): Promise<number> {
  const sample = await run.client.get(path, run.page.headers);
  if (sample.status !== 200) throw new Error(`${run.page.id}: status ${sample.status} during the measurement`);
  if (sample.serverTiming) run.timings.push(sample.serverTiming);
  return sample.ms;
}

export async function measurePages(
  pages: readonly PageSpec[],
  checks: ReadonlyMap<string, PageCheck>,
  o: MeasureOptions,
): Promise<PageResult[]> {
  const runs: Running[] = pages.map((page) => {
    const first = checks.get(page.id)?.ms ?? 0;
    const tooSlow = first > o.pageBudgetS * 1_000;
    return {
      page,
      client: new PageClient(o.origin, page.session === false ? {} : { cookie: o.cookie }, o.timeoutMs),
      samples: [],
      timings: [],
      cpuMs: 0,
      foreignPctMs: 0,
      wallMs: 0,
      stoppedEarly: tooSlow,
      failure: tooSlow ? `its first answer took ${(first / 1_000).toFixed(0)} s, more than the page budget` : null,
    };
  });
  const fail = (run: Running, error: unknown): void => {
    run.stoppedEarly = true;
    run.failure = error instanceof Error ? error.message : String(error);
    o.log(`${run.page.id}: ${run.failure}; not measured further`);
  };
  // Warm-up: `warmup` requests per page, a slow page at least one and at most 30 s of them.
  for (const run of runs) {
    const until = performance.now() + 30_000;
    try {
      for (let i = 0; i < o.warmup && !run.stoppedEarly && (i === 0 || performance.now() < until); i += 1) {
        await send(run, run.page.path);
      }
    } catch (error) {
      fail(run, error);
    }
  }
  o.log(`warm-up done (up to ${o.warmup} requests per page); measuring ${o.requests} per page in ${o.rounds} rounds`);
  const share = Math.ceil(o.requests / o.rounds);
  for (let round = 0; round < o.rounds; round += 1) {
    for (const run of runs) {
      const want = Math.min(share, o.requests - run.samples.length);
      if (run.stoppedEarly || want <= 0) continue;
      const foreign = watchForeignLoad([o.hostPid]);
      const cpu0 = treeCpuMs(o.hostPid);
      const began = performance.now();
      const before = run.samples.length;
      for (let i = 0; i < want; i += 1) {
        try {
          run.samples.push(await send(run, run.page.path));
        } catch (error) {
          fail(run, error);
          break;
        }
        const spentS = (run.wallMs + performance.now() - began) / 1_000;
        if (spentS > o.pageBudgetS && run.samples.length >= MIN_SAMPLES) {
          run.stoppedEarly = true;
          break;
        }
      }
      const wall = performance.now() - began;
      run.cpuMs += treeCpuMs(o.hostPid) - cpu0;
      run.foreignPctMs += foreign() * wall;
      run.wallMs += wall;
      const p50 = stats(run.samples.slice(before)).p50Ms;
      o.log(`  round ${round + 1} ${run.page.id}: ${run.samples.length - before} requests, p50 ${p50.toFixed(1)} ms`);
    }
  }
  return runs.map((run) => {
    run.client.close();
    const check = checks.get(run.page.id);
    if (!check) throw new Error(`no check for ${run.page.id}`);
    return {
      id: run.page.id,
      title: run.page.title,
      path: run.page.path,
      check,
      requests: run.samples.length,
      latency: stats(run.samples),
      hostCpuMsPerRequest: run.cpuMs / Math.max(1, run.samples.length),
      foreignCpuPct: run.foreignPctMs / Math.max(1, run.wallMs),
      serverTiming: timingMetrics(run.timings),
      stoppedEarly: run.stoppedEarly,
      failure: run.failure,
    };
  });
}
