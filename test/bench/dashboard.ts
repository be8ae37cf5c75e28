// The dashboard part of `npm run bench` (`--dashboard-only`, BENCH_PART=dashboard): one
// organisation with BENCH_EVENTS usage events (10 million by default) over 180 days, then the
// server time of its pages at concurrency 1: the overview and the usage explorer against a
// trivial page of the same app, with the query plans of every page. See docs/benchmarks.md
// ("Dashboard") for the method; dashboard-data.ts for the data set.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT } from "./arms.ts";
import { dataPlan } from "./dashboard-data.ts";
import { type Host, startHost } from "./dashboard-host.ts";
import { checkPage, measurePages, type PageCheck, type PageResult } from "./dashboard-measure.ts";
import { baselineOf, byTimeZone, PAGES, type PageSpec } from "./dashboard-pages.ts";
import { bundleTracing, pagePlans } from "./dashboard-plans.ts";
import { type DashboardResults, renderDashboard, sumsTable, writeDashboardDocs } from "./dashboard-report.ts";
import type { CheckResult } from "./dashboard-inspect.ts";
import type { SeedResult } from "./dashboard-seed.ts";
import { addRules, type BenchOrg, provisionDashboard, refusedCalls, signIn } from "./dashboard-setup.ts";
import { apiCall, stringField } from "./outlay-setup.ts";
import { log } from "./points.ts";
import { sleep } from "./procs.ts";
import type { Machine } from "./results.ts";
import { writeJson } from "./report.ts";

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** The part's settings; the published figures use the defaults. */
export function dashboardConfig() {
  const events = envInt("BENCH_EVENTS", 10_000_000, 10_000, 30_000_000);
  return {
    events,
    days: 180,
    keys: 200,
    refusals: envInt("BENCH_REFUSALS", Math.min(3_000, Math.floor(events / 100)), 20, 50_000),
    chunkEvents: envInt("BENCH_SEED_CHUNK", 200_000, 10_000, 2_000_000),
    requests: envInt("BENCH_DASHBOARD_REQUESTS", 200, 5, 100_000),
    warmup: envInt("BENCH_DASHBOARD_WARMUP", 10, 0, 1_000),
    rounds: 5,
    pageBudgetS: envInt("BENCH_DASHBOARD_PAGE_SECONDS", 400, 10, 3_600),
    planRuns: 3,
    timeoutMs: 600_000,
  };
}

export type DashboardConfig = ReturnType<typeof dashboardConfig>;

/** sourceRevision() covers the Worker's folders; the pages live in web/: say when it has changes. */
export function withWebChanges(revision: string): string {
  try {
    const git = (args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 10_000 });
    if (git(["status", "--porcelain", "--", "web"]).trim() === "") return revision;
    const diff = createHash("sha256")
      .update(git(["diff", "HEAD", "--", "web"]))
      .digest("hex")
      .slice(0, 8);
    return `${revision}; uncommitted changes in web/ (diff ${diff})`;
  } catch {
    return revision;
  }
}

/** BENCH_DASHBOARD_PAGES=keys,overview picks pages by id (the baseline always runs). */
function pagesToRun(): PageSpec[] {
  const wanted = (process.env.BENCH_DASHBOARD_PAGES ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((id) => !PAGES.some((p) => p.id === id));
  if (unknown.length > 0) throw new Error(`BENCH_DASHBOARD_PAGES: no page ${unknown.join(", ")}`);
  return PAGES.filter((p) => wanted.length === 0 || wanted.includes(p.id) || p.baseline);
}

/** Bytes of the D1 database's files (SQLite file, WAL, shared memory) under the state dir. */
function d1FileBytes(stateDir: string): number {
  let total = 0;
  for (const entry of readdirSync(stateDir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && path.includes("D1DatabaseObject")) total += statSync(path).size;
  }
  return total;
}

/** The organisation's time zone, through the settings API. */
async function setTimeZone(origin: string, org: BenchOrg, zone: string): Promise<void> {
  await apiCall(`${origin}/api/v1/settings`, "PATCH", org.adminToken, { time_zone: zone });
}

async function waitForRefusals(host: Host, tenantId: string, count: number): Promise<void> {
  const until = performance.now() + 180_000;
  for (;;) {
    const c = await host.hook<{ events: Record<string, number>; audit: Record<string, number> }>("counts", {
      tenantId,
    });
    const events = c.events.refused ?? 0;
    const audit = c.audit["call.refused"] ?? 0;
    if (events >= count && audit >= count) return;
    if (performance.now() > until) {
      throw new Error(
        `after 180 s D1 holds ${events} refused usage events and ${audit} call.refused audit events of ${count}`,
      );
    }
    await sleep(1_000);
  }
}

type Seeded = {
  org: BenchOrg;
  busiestKey: string;
  seed: SeedResult;
  check: CheckResult;
  refusalsByStatus: Record<string, number>;
};

async function seedOrganisation(host: Host, cfg: DashboardConfig, operatorToken: string): Promise<Seeded> {
  const plan = dataPlan({ events: cfg.events - cfg.refusals, days: cfg.days, keys: cfg.keys, now: Date.now() });
  const { org, proxyKeys } = await provisionDashboard(host.origin, operatorToken, plan, log);
  const rules = await addRules(host.origin, org);
  const made = await refusedCalls(host.origin, proxyKeys, rules, cfg.refusals);
  log(`${made.refused} of ${cfg.refusals} calls refused by the gateway (${JSON.stringify(made.byStatus)})`);
  if (made.refused !== cfg.refusals)
    throw new Error(`expected every call to be refused: ${JSON.stringify(made.byStatus)}`);
  await waitForRefusals(host, org.tenantId, cfg.refusals);
  log(
    `seeding ${plan.events.toLocaleString("en")} events over ${cfg.days} days (${plan.combos.length} key × model pairs)`,
  );
  const seed = await host.hook<SeedResult>("seed", {
    tenantId: org.tenantId,
    plan,
    keyIds: org.keyIds,
    chunkEvents: cfg.chunkEvents,
  });
  log(
    `seeded in ${seed.seconds.toFixed(0)} s (events ${seed.eventSeconds.toFixed(0)} s, rollups ${seed.rollupSeconds.toFixed(0)} s), ${(seed.sizeBytes / 1e9).toFixed(2)} GB`,
  );
  const check = await host.hook<CheckResult>("check", { tenantId: org.tenantId });
  const busiest = plan.keys.reduce((best, k, i) => (k.weight > (plan.keys[best]?.weight ?? 0) ? i : best), 0);
  return { org, busiestKey: org.keyIds[busiest] ?? "", seed, check, refusalsByStatus: made.byStatus };
}

function sumsMatch(check: CheckResult): boolean {
  const fields = ["requests", "cost", "input", "output", "unpriced"] as const;
  const same = (rollups: CheckResult["rollups"]) =>
    check.events.length === rollups.length &&
    check.events.every((e) => {
      const r = rollups.find((row) => row.dim_name === e.dim_name);
      return r !== undefined && fields.every((f) => r[f] === e[f]);
    });
  return same(check.rollups) && same(check.daily) && check.lastUsedWrong === 0;
}

export type DashboardContext = { tmp: string; bundle: string; revision: string; command: string; machine: Machine };

export async function dashboardPart(ctx: DashboardContext): Promise<DashboardResults> {
  const began = performance.now();
  const cfg = dashboardConfig();
  const pages = pagesToRun();
  const stateDir = join(ctx.tmp, "dashboard-state");
  const operatorToken = `bench-operator-${crypto.randomUUID()}`;
  const hostOptions = { stateDir, operatorToken, timeoutMs: 120_000, log: (l: string) => log(`  ${l}`) };
  log(`dashboard part: ${cfg.events.toLocaleString("en")} events, ${pages.length} pages`);
  // The tracing copy (for the query plans) is bundled now, from the same sources as the measured one.
  log("bundling a tracing copy of the Worker for the query plans");
  const tracing = await bundleTracing(ctx.tmp);
  let host = await startHost({ ...hostOptions, bundle: ctx.bundle });
  const seeded = await seedOrganisation(host, cfg, operatorToken);
  const match = sumsMatch(seeded.check);
  process.stdout.write(`\n${sumsTable(seeded.check).join("\n")}\n\n`);
  if (!match) {
    const wrong = seeded.check.lastUsedWrong;
    throw new Error(
      `the rollups' sums differ from the events' sums (table above), or ${wrong} keys' last use is wrong`,
    );
  }
  log(
    `check (${seeded.check.seconds.toFixed(0)} s): the hourly and daily rollups' sums equal the events' sums, in all and per dimension; every key's last use is its latest event`,
  );
  const resolved = pages.map((p) => ({ ...p, path: p.path.replaceAll("{key}", seeded.busiestKey) }));
  const cookie = await signIn(host.origin, seeded.org.user);
  const measured: PageResult[] = [];
  for (const [zone, group] of byTimeZone(resolved)) {
    await setTimeZone(host.origin, seeded.org, zone);
    const checks = new Map<string, PageCheck>();
    for (const page of group) checks.set(page.id, await checkPage(page, host.origin, cookie, cfg.timeoutMs));
    log(`every page answers 200 with its content; measuring ${group.length} pages in ${zone}`);
    const options = {
      origin: host.origin,
      cookie,
      requests: cfg.requests,
      warmup: cfg.warmup,
      rounds: cfg.rounds,
      pageBudgetS: cfg.pageBudgetS,
      timeoutMs: cfg.timeoutMs,
      hostPid: host.proc.pid,
      log,
    };
    measured.push(...(await measurePages(group, checks, options)));
  }
  const dbFileBytes = d1FileBytes(stateDir);
  await host.stop();

  log("query plans: the tracing copy of the Worker on the same database");
  host = await startHost({ ...hostOptions, bundle: tracing });
  // New host, new secrets: set the password again (it is hashed with the pepper), sign in, and
  // mint an admin token for the time zone changes.
  const internal = `${host.origin}/internal/v1/tenants/${seeded.org.tenantId}`;
  await apiCall(`${internal}/members`, "PUT", operatorToken, {
    ...seeded.org.user,
    name: "Bench Owner",
    role: "owner",
  });
  const tracingOrg = {
    ...seeded.org,
    adminToken: stringField(
      await apiCall(`${internal}/admin-tokens`, "POST", operatorToken, { name: "plans" }),
      "token",
    ),
  };
  const tracingOrigin = host.origin;
  const plans = await pagePlans(host, resolved, await signIn(tracingOrigin, seeded.org.user), {
    runs: cfg.planRuns,
    before: (page) => setTimeZone(tracingOrigin, tracingOrg, page.timeZone ?? "UTC"),
  });
  await host.stop();

  const results: DashboardResults = {
    date: new Date().toISOString(),
    command: ctx.command,
    revision: ctx.revision,
    machine: ctx.machine,
    config: cfg,
    data: {
      events: cfg.events,
      generated: seeded.seed.generated,
      refusals: seeded.seed.refusals,
      refusalsByStatus: seeded.refusalsByStatus,
      days: cfg.days,
      keys: cfg.keys,
      rollupRows: seeded.check.rollupRows,
      dailyRows: seeded.check.dailyRows,
      keysUsed: seeded.check.keysUsed,
      lastUsedWrong: seeded.check.lastUsedWrong,
      refusedAudit: seeded.check.refusedAudit,
      dbBytes: seeded.seed.sizeBytes,
      dbFileBytes,
      seedS: seeded.seed.seconds,
      eventS: seeded.seed.eventSeconds,
      rollupS: seeded.seed.rollupSeconds,
      checkS: seeded.check.seconds,
      sums: { events: seeded.check.events, rollups: seeded.check.rollups, daily: seeded.check.daily },
      sumsMatch: match,
    },
    baseline: baselineOf(pages).id,
    pages: measured,
    plans,
    elapsedS: (performance.now() - began) / 1_000,
  };
  return results;
}

export function publishDashboard(results: DashboardResults): void {
  const docs = join(ROOT, "docs/benchmarks.md");
  process.stdout.write(`\n${renderDashboard(results)}\n`);
  writeDashboardDocs(docs, results);
  const path = writeJson(join(ROOT, "bench-results"), results, "dashboard.json");
  log(`wrote the dashboard blocks of ${docs} and ${path}`);
}
