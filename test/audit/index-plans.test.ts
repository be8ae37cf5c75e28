// The audit index's type index leaves call.admitted out (migration 0011: one D1 row written per
// proxied call fewer). Every read of one other type must use it: SQLite takes a partial index only
// when the query states its condition, and on the WITHOUT ROWID table its planner would rather walk
// the primary key and filter (a whole trail read for a rare type), so the store names the index.
// call.admitted walks the primary key. Each store read is run through a D1 stand-in that records
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

async function planOf(read: (db: ReturnType<typeof tenantDb>) => Promise<unknown>): Promise<string[]> {
  const plans: string[][] = [];
  await read(tenantDb(planRecorder(plans), newId()));
  expect(plans).toHaveLength(1);
  return plans[0] ?? [];
}

const usesTypeIndex = (plan: string[]) => plan.some((d) => /USING (COVERING )?INDEX audit_events_by_type\b/.test(d));
const usesPrimaryKey = (plan: string[]) => plan.some((d) => /audit_events USING PRIMARY KEY/.test(d));
const range = { from: 0, to: Number.MAX_SAFE_INTEGER };

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

  it("call.admitted, every type, and several types walk the primary key", async () => {
    const reads = [
      (db: ReturnType<typeof tenantDb>) => auditEventsAfter(db, { after: 0, type: "call.admitted", limit: 50 }),
      (db: ReturnType<typeof tenantDb>) => auditEventsAfter(db, { after: 0, type: null, limit: 50 }),
      (db: ReturnType<typeof tenantDb>) =>
        auditExportPage(db, { after: 0, range, types: ["call.admitted"], limit: 50 }),
      (db: ReturnType<typeof tenantDb>) =>
        auditExportPage(db, { after: 0, range, types: ["call.admitted", "call.refused"], limit: 50 }),
    ];
    for (const read of reads) {
      const plan = await planOf(read);
      expect(usesPrimaryKey(plan) ? "primary key" : plan.join(" / ")).toBe("primary key");
      expect(usesTypeIndex(plan)).toBe(false);
    }
  });

  it.each<AuditCategory>(["decisions", "changes", "access", "calls"])(
    "the activity page's %s category walks the primary key newest first, with no sort",
    async (category) => {
      const plan = await planOf((db) =>
        auditEventsBefore(db, { category, before: null, from: null, to: null, code: null, keyId: null, limit: 50 }),
      );
      expect(usesPrimaryKey(plan) ? "primary key" : plan.join(" / ")).toBe("primary key");
      expect(plan.some((d) => /TEMP B-TREE/.test(d))).toBe(false);
    },
  );
});
