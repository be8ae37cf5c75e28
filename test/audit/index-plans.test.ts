// The audit index's type index leaves call.admitted out (migration 0011: one D1 row written per
// proxied call fewer). Every read of one other type must use it: SQLite takes a partial index only
// when the query states its condition, and on the WITHOUT ROWID table its planner would rather walk
// the primary key and filter (a whole trail read for a rare type), so the store names the index.
// call.admitted is not in audit_events at all (migration 0013): its runs are read by their key. Each store read is run through a D1 stand-in that records
// the query plan of exactly the SQL and parameters the store sends, against the real schema.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import {
  auditEventsAfter,
  auditEventsBefore,
  auditExportPage,
  recentRefusals,
  tenantDb,
  type AuditCategory,
} from "../../workers/store/index.ts";

/** A D1 whose statements answer nothing and record their query plan on the real database. */
function planRecorder(plans: string[][]): D1Database {
  return {
    prepare: (sql: string) => ({
      bind: (...params: unknown[]) => ({
        all: async () => {
          const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
            .bind(...params)
            .all<{ detail: string }>();
          plans.push(plan.results.map((r) => r.detail));
          return { results: [] };
        },
      }),
    }),
  } as unknown as D1Database;
}

async function plansOf(read: (db: ReturnType<typeof tenantDb>) => Promise<unknown>): Promise<string[][]> {
  const plans: string[][] = [];
  await read(tenantDb(planRecorder(plans), newId()));
  return plans;
}

async function planOf(read: (db: ReturnType<typeof tenantDb>) => Promise<unknown>): Promise<string[]> {
  const plans = await plansOf(read);
  expect(plans).toHaveLength(1);
  return plans[0] ?? [];
}

const usesTypeIndex = (plan: string[]) => plan.some((d) => /USING (COVERING )?INDEX audit_events_by_type\b/.test(d));
const usesPrimaryKey = (plan: string[]) => plan.some((d) => /audit_events USING PRIMARY KEY/.test(d));
const range = { from: 0, to: Number.MAX_SAFE_INTEGER };
/** call.admitted's runs (audit_call_runs, WITHOUT ROWID) read by a range of their key, in its order. */
const runsByKey = "SEARCH audit_call_runs USING PRIMARY KEY (tenant_id=? AND first_seq>?)";
const runsBelow = "SEARCH audit_call_runs USING PRIMARY KEY (tenant_id=? AND first_seq<?)";

describe("audit_events_by_type without call.admitted", () => {
  it("is a partial index in the migrated schema", async () => {
    const row = await env.DB.prepare("SELECT sql FROM sqlite_master WHERE name = 'audit_events_by_type'").first<{
      sql: string;
    }>();
    expect(row?.sql).toMatch(/WHERE type <> 'call\.admitted'$/);
  });

  it.each(["key.created", "call.refused", "budget.threshold"])("a read of one type (%s) uses it", async (type) => {
    expect(usesTypeIndex(await planOf((db) => auditEventsAfter(db, { after: 0, type, limit: 50 })))).toBe(true);
    expect(
      usesTypeIndex(await planOf((db) => auditExportPage(db, { after: 0, range, types: [type], limit: 50 }))),
    ).toBe(true);
  });

  it("the overview's latest refusals use it", async () => {
    expect(usesTypeIndex(await planOf((db) => recentRefusals(db, 10)))).toBe(true);
  });

  it("call.admitted reads its runs by their key; every type, and several, walk both primary keys", async () => {
    const calls = [
      (db: ReturnType<typeof tenantDb>) => auditEventsAfter(db, { after: 0, type: "call.admitted", limit: 50 }),
      (db: ReturnType<typeof tenantDb>) =>
        auditExportPage(db, { after: 0, range, types: ["call.admitted"], limit: 50 }),
    ];
    for (const read of calls) expect(await plansOf(read)).toEqual([[runsByKey]]);
    const both = [
      (db: ReturnType<typeof tenantDb>) => auditEventsAfter(db, { after: 0, type: null, limit: 50 }),
      (db: ReturnType<typeof tenantDb>) => auditExportPage(db, { after: 0, range, types: null, limit: 50 }),
      (db: ReturnType<typeof tenantDb>) =>
        auditExportPage(db, { after: 0, range, types: ["call.admitted", "call.refused", "key.created"], limit: 50 }),
    ];
    for (const read of both) {
      const [events, runs, ...rest] = await plansOf(read);
      expect(rest).toEqual([]);
      expect(usesPrimaryKey(events ?? []) ? "primary key" : (events ?? []).join(" / ")).toBe("primary key");
      expect(usesTypeIndex(events ?? [])).toBe(false);
      expect(runs).toEqual([runsByKey]);
    }
    // call.admitted and one other type: that type by its index.
    const [events, runs] = await plansOf((db) =>
      auditExportPage(db, { after: 0, range, types: ["call.admitted", "call.refused"], limit: 50 }),
    );
    expect(usesTypeIndex(events ?? [])).toBe(true);
    expect(runs).toEqual([runsByKey]);
  });

  const categoryPlan = (category: AuditCategory) =>
    planOf((db) =>
      auditEventsBefore(db, { category, before: null, from: null, to: null, code: null, keyId: null, limit: 50 }),
    );

  it.each<AuditCategory>(["decisions", "changes", "access"])(
    "the activity page's %s category walks the primary key newest first, with no sort",
    async (category) => {
      const plan = await categoryPlan(category);
      expect(usesPrimaryKey(plan) ? "primary key" : plan.join(" / ")).toBe("primary key");
      expect(plan.some((d) => /TEMP B-TREE/.test(d))).toBe(false);
    },
  );

  it("the activity page's calls category walks call.admitted's runs by their key, newest first, with no sort", async () => {
    expect(await categoryPlan("calls")).toEqual([runsBelow]);
  });
});
