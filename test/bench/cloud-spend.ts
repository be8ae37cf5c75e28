// The spend page's queries over a year (docs/benchmarks.md, "Cloud bills"): twelve generated
// monthly CUR 2.0 bills of the same 10-account organisation imported through the API (each as a
// request body, POST /api/v1/cloud/imports), then GET /api/v1/cloud/spend for the whole year with
// the groupings the "Cloud AI spend" page uses, one request at a time: p50/p95/p99.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { type GeneratedBill, generateBill } from "./cloud-generate.ts";
import { type CloudApi, getImport, spendTotal } from "./cloud-import.ts";
import { log } from "./points.ts";
import { sleep } from "./procs.ts";
import { type Latency, latencyOf } from "./cloud-stats.ts";

export type SpendQuery = { name: string; query: string; rows: number; truncated: boolean } & Latency;

export type YearResult = {
  months: string[];
  resourcesPerMonth: number;
  rows: number;
  storedRows: number;
  importMs: number;
  totalNano: string;
  expectedTotalNano: string;
  queries: SpendQuery[];
};

/** The twelve months ending with `last` ("YYYY-MM"). */
export function yearMonths(last: string): string[] {
  const [y, m] = last.split("-").map(Number) as [number, number];
  return Array.from({ length: 12 }, (_, i) => {
    const d = new Date(Date.UTC(y, m - 12 + i, 1));
    return d.toISOString().slice(0, 7);
  });
}

function lastDay(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

async function importYear(api: CloudApi, bills: readonly GeneratedBill[], maxMs: number): Promise<number> {
  const ids: string[] = [];
  const began = performance.now();
  for (const bill of bills) {
    const body = readFileSync(bill.csvGz);
    const res = await fetch(`${api.base}/api/v1/cloud/imports?file_name=${bill.spec.month}.csv.gz`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "application/octet-stream" },
      body,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`POST /api/v1/cloud/imports: ${res.status} ${text.slice(0, 300)}`);
    ids.push((JSON.parse(text) as { id: string }).id);
  }
  let stored = 0;
  for (const id of ids) {
    for (;;) {
      const view = await getImport(api, id);
      if (view.status === "done") {
        stored += view.rows_stored;
        break;
      }
      if (view.status === "failed") throw new Error(`year import ${id} failed: ${JSON.stringify(view.error)}`);
      if (performance.now() - began > maxMs) throw new Error(`year imports not done in ${maxMs} ms`);
      await sleep(500);
    }
  }
  return stored;
}

/** One request, `warmup` times discarded, then `requests` times timed one after another. */
async function timeRequest(
  url: string,
  headers: Record<string, string>,
  plan: { name: string; query: string },
  warmup: number,
  requests: number,
): Promise<SpendQuery> {
  const page = !url.includes("/api/");
  let rows = 0;
  let truncated = false;
  const times: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers, redirect: "manual" });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 300)}`);
    if (i >= warmup) times.push(ms);
    if (i === 0 && page) {
      rows = (text.match(/<tr[\s>]/g) ?? []).length;
    } else if (i === 0) {
      const body = JSON.parse(text) as { data: unknown[]; truncated: boolean };
      rows = body.data.length;
      truncated = body.truncated;
    }
  }
  return { ...plan, rows, truncated, ...latencyOf(times) };
}

export type YearInput = {
  api: CloudApi;
  /** a dashboard session of the organisation's owner, for the /cloud page */
  cookie: string;
  lastMonth: string;
  resources: number;
  seed: number;
  warmup: number;
  requests: number;
  maxImportMs: number;
};

export async function measureSpend(input: YearInput): Promise<YearResult> {
  const months = yearMonths(input.lastMonth);
  const bills: GeneratedBill[] = [];
  for (const month of months) {
    bills.push(await generateBill({ month, resources: input.resources, seed: input.seed }, 0, log));
  }
  const rows = bills.reduce((s, b) => s + b.rows, 0);
  log(`year: importing ${months.length} monthly bills, ${rows.toLocaleString("en")} rows`);
  const t0 = performance.now();
  const storedRows = await importYear(input.api, bills, input.maxImportMs);
  const importMs = performance.now() - t0;
  const from = `${months[0]}-01`;
  const to = lastDay(months.at(-1) ?? input.lastMonth);
  const total = await spendTotal(input.api, from, to);
  const expected = bills.reduce((s, b) => s + BigInt(b.totalNano), 0n);
  log(
    `year: imported in ${(importMs / 1000).toFixed(0)} s, ${storedRows.toLocaleString("en")} stored rows; total ${total === expected ? "matches" : "DIFFERS"}`,
  );
  // The /cloud page's own queries (workers/dashboard/cloud-figures.ts), over the whole year.
  const range = `from=${from}&to=${to}`;
  const ai = "category=bedrock,sagemaker,gpu_compute,other_ai";
  const plans = [
    { name: "AI spend by month and category", query: `${range}&group_by=month,category&${ai}` },
    { name: "Bedrock per day", query: `${range}&group_by=day&category=bedrock` },
    { name: "Bedrock by model and token type", query: `${range}&group_by=model,token_type&category=bedrock` },
    { name: "GPU by instance type and account", query: `${range}&group_by=instance_type,account&category=gpu_compute` },
  ];
  const queries: SpendQuery[] = [];
  const bearer = { authorization: `Bearer ${input.api.token}` };
  for (const plan of plans) {
    const url = `${input.api.base}/api/v1/cloud/spend?${plan.query}`;
    const q = await timeRequest(url, bearer, plan, input.warmup, input.requests);
    log(
      `spend ${plan.query}: p50 ${q.p50Ms.toFixed(1)} ms, p95 ${q.p95Ms.toFixed(1)} ms, p99 ${q.p99Ms.toFixed(1)} ms (${q.rows} rows)`,
    );
    queries.push(q);
  }
  const pages = [
    { name: "/cloud page, the year (by month)", query: range },
    { name: "/cloud page, the last two months (by day)", query: `from=${months.at(-2) ?? months[0]}-01&to=${to}` },
  ];
  for (const plan of pages) {
    const url = `${input.api.base}/cloud?${plan.query}`;
    const probe = await fetch(url, { headers: { cookie: input.cookie }, redirect: "manual" });
    await probe.arrayBuffer();
    if (probe.status !== 200) {
      log(`${url}: ${probe.status}, the page is not timed`);
      continue;
    }
    const q = await timeRequest(url, { cookie: input.cookie }, plan, input.warmup, input.requests);
    log(
      `/cloud?${plan.query}: p50 ${q.p50Ms.toFixed(1)} ms, p95 ${q.p95Ms.toFixed(1)} ms, p99 ${q.p99Ms.toFixed(1)} ms`,
    );
    queries.push(q);
  }
  return {
    months,
    resourcesPerMonth: input.resources,
    rows,
    storedRows,
    importMs,
    totalNano: total.toString(),
    expectedTotalNano: expected.toString(),
    queries,
  };
}
