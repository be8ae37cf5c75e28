// Where admission's time goes, by ablation (a diagnostic beside the ledger part of the bench):
// bundles patched copies of the Worker (patch.ts; the project is never modified), each with one
// kind of per-call work taken out, and measures the same tenants on each: C0 (no rules),
// C-strict, C-lease, and C-lease without its rate limit (budget and policy only). JSON only:
// p50/p99 at c=1 and, at c=64, throughput, CPU per call and the share admitted from a lease.
//   BENCH_DURATION=6 BENCH_WARMUP=1 node test/bench/ledger-ablate.ts [--only base,no-usage,...]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Arm, bundleOutlay, ROOT, startDirect, startOutlay, upstreamOrigin } from "./arms.ts";
import { CONFIG } from "./config.ts";
import { idleCpuRate } from "./cpu.ts";
import { ADMISSION_MARK, BIG_BUDGET_USD, expectOk, RULES, targetFor } from "./ledger.ts";
import { leaseShare } from "./ledger-results.ts";
import { provisionTenant, type TenantRules } from "./ledger-setup.ts";
import { applicable, NO_USAGE, type Patch, patchedCopy } from "./patch.ts";
import { sourceRevision } from "./machine.ts";
import { log, throughputWithCpu } from "./points.ts";
import { argFlag, runScript, sleep, stop, stopAll } from "./procs.ts";
import { measureSequential } from "./sequential.ts";
import { writeScript } from "./wrk.ts";

/** No audit events: the ledger writes no audit_outbox row per admitted or reported call (so nothing to AUDIT_QUEUE or D1). */
const NO_AUDIT: Patch = {
  name: "NO_AUDIT",
  versions: [
    [
      {
        file: "workers/ledger/outbox.ts",
        find: "  audit(draft: AuditDraft): void {",
        replace: "  audit(draft: AuditDraft): void {\n    if (draft !== null) return;",
      },
    ],
  ],
};

const BUILDS: Record<string, { what: string; patches: Patch[] }> = {
  base: { what: "Outlay as it is", patches: [] },
  "no-usage": {
    what: "no usage events (no queue send per call or per lease report; no consumer, no D1)",
    patches: [NO_USAGE],
  },
  "no-audit": { what: "no audit events (no audit_outbox row per call; no audit queue, no D1)", patches: [NO_AUDIT] },
  "no-usage-audit": { what: "neither usage nor audit events", patches: [NO_USAGE, NO_AUDIT] },
};

const TENANTS: Record<string, TenantRules> = {
  C0: RULES.C0,
  "C-strict": RULES.strict,
  "C-lease": RULES.lease,
  "C-lease, no rate limit": { budgetUsd: BIG_BUDGET_USD, policy: true, rateLimit: false, mode: "lease" },
};

type Row = { build: string; tenant: string; p50: number; p99: number; rps: number; cpuMs: number; leased: number };

async function measureTenant(outlay: Arm, tmp: string, build: string, name: string): Promise<Row> {
  const admin = outlay.admin;
  const rules = TENANTS[name];
  if (!admin || !rules) throw new Error(`no tenant ${name}`);
  const tenant = await provisionTenant(admin, `${build} ${name}`, rules);
  const target = targetFor(outlay, tenant, "json");
  await expectOk(`${build} ${name}`, target);
  const latency = await measureSequential(target, {
    warmupS: CONFIG.warmupS,
    durationS: CONFIG.durationS,
    stream: false,
    mark: ADMISSION_MARK,
  });
  const script = writeScript(tmp, `ablate-${build}-${tenant.proxyKey.slice(-6)}`, target, ADMISSION_MARK);
  const idleMsPerSecond = await idleCpuRate(outlay.proc.pid, 1_000);
  const rearm = async () => {
    await expectOk(`${build} ${name}`, target);
    await sleep(200);
  };
  const { wrk, cpu } = await throughputWithCpu(script, outlay.url, { root: outlay.proc.pid, idleMsPerSecond }, rearm);
  const row = {
    build,
    tenant: name,
    p50: latency.latency.p50Ms,
    p99: latency.latency.p99Ms,
    rps: wrk.rps,
    cpuMs: cpu.msPerRequest,
    leased: leaseShare(wrk),
  };
  log(`${build} ${name}: ${JSON.stringify(row)}`);
  return row;
}

function print(rows: Row[]): void {
  const lines = [
    "| build | tenant | JSON p50 / p99 c=1 (ms) | calls/s c=64 | CPU per call (ms) | leased at c=64 |",
    "|---|---|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.build} | ${r.tenant} | ${r.p50.toFixed(3)} / ${r.p99.toFixed(3)} | ${r.rps.toFixed(0)} | ${r.cpuMs.toFixed(3)} | ${Number.isFinite(r.leased) ? `${r.leased.toFixed(2)}%` : "n/a"} |`,
    ),
  ];
  process.stdout.write(`\n${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const only = argFlag(process.argv.slice(2), "only")?.split(",");
  const names = Object.keys(BUILDS).filter((name) => !only || only.includes(name));
  for (const name of names) for (const patch of BUILDS[name]?.patches ?? []) applicable(ROOT, patch);
  const tmp = mkdtempSync(join(tmpdir(), "outlay-ledger-ablate-"));
  try {
    const A = await startDirect(CONFIG.startupTimeoutMs);
    const upstream = upstreamOrigin(A);
    // Every build is bundled before anything is measured, so all come from the same sources.
    const bundles = new Map<string, string>();
    for (const name of names) {
      const src = patchedCopy(join(tmp, name), BUILDS[name]?.patches ?? []);
      bundles.set(name, await bundleOutlay(join(tmp, `${name}-bundle`), src));
    }
    log(`bundled ${names.join(", ")} from ${sourceRevision()}`);
    const rows: Row[] = [];
    for (const [name, bundle] of bundles) {
      const C = await startOutlay(upstream, bundle, CONFIG.startupTimeoutMs);
      log(`${name}: ${BUILDS[name]?.what ?? ""}`);
      for (const tenant of Object.keys(TENANTS)) rows.push(await measureTenant(C, tmp, name, tenant));
      await stop(C.proc);
    }
    print(rows);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript("ledger-ablate", main);
