// The pages' queries and their plans on the seeded database. A tracing copy of the Worker
// (patch.ts: sources copied to a temp dir, the project untouched) logs every statement the
// tenant-scoped accessor prepares, with its parameters; each page is requested once through it,
// and every distinct SELECT is then explained (EXPLAIN QUERY PLAN) and run a few times through
// the D1 binding for its SQL time and the rows it read.
import { cpSync } from "node:fs";
import { join } from "node:path";
import { bundleOutlay, ROOT } from "./arms.ts";
import type { ExplainResult } from "./dashboard-inspect.ts";
import type { Host } from "./dashboard-host.ts";
import type { PageSpec } from "./dashboard-pages.ts";
import { type Patch, patchedCopy } from "./patch.ts";

const TRACE_SQL: Patch = {
  name: "TRACE_SQL",
  versions: [
    [
      {
        file: "workers/store/tenant-db.ts",
        find: "    if (!SCOPED.test(sql)) throw new Error(`unscoped tenant query: ${sql.slice(0, 80)}`);",
        replace: `    if (!SCOPED.test(sql)) throw new Error(\`unscoped tenant query: \${sql.slice(0, 80)}\`);
    console.log(
      "OUTLAY_SQL " +
        JSON.stringify({ sql, params: [this.tenantId, ...params] }, (_k, v) => (typeof v === "bigint" ? Number(v) : v)),
    );`,
      },
    ],
  ],
};

/** Bundles the tracing copy of the Worker; returns its entry module. */
export async function bundleTracing(tmp: string): Promise<string> {
  const src = patchedCopy(join(tmp, "trace-src"), [TRACE_SQL]);
  // patchedCopy copies the Worker's own folders; the dashboard's pages and assets come too.
  cpSync(join(ROOT, "web"), join(src, "web"), { recursive: true });
  return bundleOutlay(join(tmp, "trace-bundle"), src);
}

/** One run of a query: the pages that ran it with these parameters, its plan, time and rows. */
export type QueryVariant = ExplainResult & { pages: string[] };
/** A distinct query text (whitespace normalised) and its runs with distinct parameters. */
export type QueryPlan = { sql: string; variants: QueryVariant[] };

function normalise(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}

type Seen = { sql: string; variants: Map<string, { params: unknown[]; pages: Set<string> }> };

/** Requests each page once through the tracing host; explains and times each distinct query
 * with each distinct set of parameters it ran with (a 30-day and a 90-day range read differently).
 * `before` runs before each page is requested (it sets the organisation's time zone). */
export async function pagePlans(
  host: Host,
  pages: readonly PageSpec[],
  cookie: string,
  o: { runs: number; before: (page: PageSpec) => Promise<void> },
): Promise<QueryPlan[]> {
  const found = new Map<string, Seen>();
  for (const page of pages) {
    if (page.session === false) continue;
    await o.before(page);
    const lines: string[] = [];
    host.onSql = (line) => lines.push(line);
    const res = await fetch(`${host.origin}${page.path}`, {
      headers: { cookie, ...page.headers },
      redirect: "manual",
      signal: AbortSignal.timeout(600_000),
    });
    await res.arrayBuffer();
    // The Worker's log lines reach us through the host's stdout: give them a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    host.onSql = null;
    if (res.status !== 200) throw new Error(`${page.id}: status ${res.status} on the tracing build`);
    for (const line of lines) {
      const { sql, params } = JSON.parse(line) as { sql: string; params: unknown[] };
      if (!/^\s*(SELECT|WITH)\b/i.test(sql)) continue;
      const key = normalise(sql);
      const seen = found.get(key) ?? { sql, variants: new Map() };
      const variant = seen.variants.get(JSON.stringify(params)) ?? { params, pages: new Set<string>() };
      variant.pages.add(page.id);
      seen.variants.set(JSON.stringify(params), variant);
      found.set(key, seen);
    }
  }
  const plans: QueryPlan[] = [];
  for (const [key, seen] of found) {
    const variants: QueryVariant[] = [];
    for (const variant of seen.variants.values()) {
      const explained = await host.hook<ExplainResult>("explain", {
        sql: seen.sql,
        params: variant.params,
        runs: o.runs,
      });
      variants.push({ ...explained, pages: [...variant.pages] });
    }
    plans.push({ sql: key, variants });
  }
  return plans;
}

/** The plan as SQLite prints it: one line per step, indented under its parent. */
export function planText(plan: QueryVariant["plan"]): string[] {
  const depth = new Map<number, number>([[0, 0]]);
  return plan.map((step) => {
    const d = (depth.get(step.parent) ?? 0) + 1;
    depth.set(step.id, d);
    return `${"  ".repeat(d - 1)}${step.detail}`;
  });
}

/** A query that reads more rows than this is reported as not served by a key range. */
export const MANY_ROWS = 100_000;
