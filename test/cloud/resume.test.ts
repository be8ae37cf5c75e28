// An import is resumable within a file (docs/cloud.md "Imports"): it runs as parts, each a
// Workflow step that stops at a place the reader offers and returns a checkpoint. Whatever the
// parts — one, or one per place; with the file kept open between parts, or opened again at the
// checkpoint as after a lost isolate; each part run twice as a retried step would — the import
// ends with the same sums, counts and warnings. And the Workflow itself goes through parts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../fixtures/cloud/cur2.ts";
import {
  beginImport,
  billObjectKey,
  cleanUpImport,
  finishImport,
  importPart,
  OpenReadings,
  type ImportTarget,
  type PartOutcome,
} from "../../workers/cloud/run-import.ts";
import { insertCloudImport, tenantDb } from "../../workers/store/index.ts";
import { newTenant, type Tenant } from "../helpers.ts";
import { gzip, utf8 } from "./parse/collect.ts";
import { importFinished } from "./support.ts";

/** A bill of `count` lines cycling through the fixtures; every 400th has a cost that is not a number. */
function bill(count: number): Cur2Row[] {
  const texts = ["Zürich “quoted” ✓", 'a "quoted"\nline break', "𝄞 four-byte", "plain"];
  return Array.from({ length: count }, (_, i) => ({
    ...(CUR2_ROWS[i % CUR2_ROWS.length] as Cur2Row),
    line_item_line_item_description: `${texts[i % texts.length]} ${"x".repeat(i % 97)}`,
    ...(i % 400 === 7 ? { line_item_unblended_cost: "n/a" } : {}),
  }));
}

const CSV = utf8(toCsv(bill(3_000)));

type Way = {
  /** a part's time budget: 0 stops at every place */
  budgetMs: number;
  /** open the file again at each checkpoint (as another isolate would) */
  reopen?: boolean;
  /** run each part once before, as a failed attempt whose lines must vanish */
  retried?: boolean;
};

async function stage(bytes: Uint8Array): Promise<{ tenant: Tenant; target: ImportTarget }> {
  const tenant = await newTenant({ providers: false });
  const target = { tenantId: tenant.tenantId, importId: crypto.randomUUID().replaceAll("-", "").slice(0, 20) };
  await insertCloudImport(tenantDb(env.DB, target.tenantId), {
    id: target.importId,
    source: "upload",
    file_name: "bill",
    bytes_total: bytes.byteLength,
    created_by: "test",
    created_at: Date.now(),
    upload_id: null,
    part_size: null,
  });
  await env.CLOUD_BILLS.put(billObjectKey(target), bytes);
  return { tenant, target };
}

/** Runs the import's steps as the Workflow does, the given way; the number of parts. */
async function runWay(target: ImportTarget, way: Way): Promise<number> {
  const kept = new OpenReadings();
  let outcome: PartOutcome = await beginImport(env, target);
  let parts = 0;
  while (outcome.status === "reading") {
    const checkpoint = outcome.checkpoint;
    if (way.retried) await importPart(env, target, checkpoint, new OpenReadings(), way.budgetMs);
    outcome = await importPart(env, target, checkpoint, way.reopen ? new OpenReadings() : kept, way.budgetMs);
    parts += 1;
  }
  kept.clear();
  expect(outcome.status).toBe("read");
  if (outcome.status !== "read") return parts;
  const done = await finishImport(env, target, outcome.checkpoint);
  expect(done.status).toBe("done");
  await cleanUpImport(env, target, done.status === "done" ? done.superseded : []);
  return parts;
}

/** What an import leaves: its figures, and its lines summed per group (rows split across parts add up). */
async function result(target: ImportTarget): Promise<unknown> {
  const row = await env.DB.prepare(
    `SELECT status, format, schema_name, billing_periods, rows_read, bytes_read, bytes_total, warnings, warning_count, error
     FROM cloud_imports WHERE tenant_id = ? AND id = ?`,
  )
    .bind(target.tenantId, target.importId)
    .first();
  const lines = await env.DB.prepare(
    `SELECT period_key, day, provider, account, region, service, category, charge_type, model, token_type,
       instance_type, usage_unit, currency, CAST(SUM(cost_nano) AS TEXT) AS cost, CAST(SUM(usage_micro) AS TEXT) AS usage,
       SUM(line_count) AS lines
     FROM cloud_lines WHERE tenant_id = ? AND import_id = ?
     GROUP BY period_key, day, provider, account, region, service, category, charge_type, model, token_type,
       instance_type, usage_unit, currency
     ORDER BY period_key, day, provider, account, region, service, category, charge_type, model, token_type,
       instance_type, usage_unit, currency`,
  )
    .bind(target.tenantId, target.importId)
    .all();
  return { row, lines: lines.results };
}

const WAYS: readonly Way[] = [
  { budgetMs: 0 },
  { budgetMs: 0, reopen: true },
  { budgetMs: 0, reopen: true, retried: true },
];

type Imported = { parts: number; result: unknown };

/** The bill imported in one part, then each of the WAYS (a tenant each). */
async function importedEachWay(bytes: Uint8Array): Promise<{ once: Imported; ways: Imported[] }> {
  const imported = async (way: Way): Promise<Imported> => {
    const { target } = await stage(bytes);
    const parts = await runWay(target, way);
    return { parts, result: await result(target) };
  };
  const once = await imported({ budgetMs: 60_000 });
  const ways: Imported[] = [];
  for (const way of WAYS) ways.push(await imported(way));
  return { once, ways };
}

/** One part's result, done with its 8 bad rows as warnings; every other way: several parts, the same result. */
function expectSameResult({ once, ways }: { once: Imported; ways: Imported[] }): void {
  expect(once.parts).toBe(1);
  expect(once.result).toMatchObject({ row: { status: "done", warning_count: 8 } });
  for (const way of ways) {
    expect(way.parts).toBeGreaterThan(3);
    expect(way.result).toEqual(once.result);
  }
}

describe("an import read in parts ends as one read at once", () => {
  it("CSV: parts stop between slices; reopened at the byte offset; retried parts write nothing twice", async () => {
    const imported = await importedEachWay(CSV);
    expectSameResult(imported);
    expect(imported.once.result).toMatchObject({ row: { format: "csv" } });
  });

  it("CSV.gz: reopened parts inflate up to the offset again", async () => {
    const imported = await importedEachWay(await gzip(CSV));
    expectSameResult(imported);
    expect(imported.once.result).toMatchObject({ row: { format: "csv.gz" } });
  });

  it("Parquet: parts stop between row groups", async () => {
    const imported = await importedEachWay(
      new Uint8Array(toParquet(bill(3_000), { rowGroupSize: 500, cost: "string" })),
    );
    expectSameResult(imported);
    expect(imported.once.result).toMatchObject({ row: { format: "parquet" } });
  });

  it("a file that fails in a later part fails the import and keeps none of the earlier parts' lines", async () => {
    const cut = CSV.slice(0, CSV.byteLength - 5);
    const { target } = await stage(cut);
    let outcome: PartOutcome = await beginImport(env, target);
    let parts = 0;
    while (outcome.status === "reading") {
      outcome = await importPart(env, target, outcome.checkpoint, new OpenReadings(), 0);
      parts += 1;
    }
    expect(parts).toBeGreaterThan(3);
    expect(outcome.status).toBe("failed");
    expect(await result(target)).toMatchObject({ row: { status: "failed" }, lines: [] });
    const error = JSON.parse(((await result(target)) as { row: { error: string } }).row.error) as { code: string };
    expect(error.code).toBe("truncated");
  });
});

describe("the Workflow goes through parts", () => {
  it("an upload of several slices is imported in several steps, with the totals of one", async () => {
    const once = await stage(CSV);
    await runWay(once.target, { budgetMs: 60_000 });
    const expected = (await result(once.target)) as { lines: unknown[] };
    const { tenant } = await stage(new Uint8Array(0));
    const res = await tenant.api("/cloud/imports?file_name=bill.csv", {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "content-length": String(CSV.byteLength) },
      body: CSV,
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const view = await importFinished(tenant, id, 60_000);
    expect(view).toMatchObject({ status: "done", rows_read: 2_992, warnings: expect.any(Array) });
    const parts = await env.DB.prepare(
      "SELECT COUNT(DISTINCT part) AS n FROM cloud_lines WHERE tenant_id = ? AND import_id = ?",
    )
      .bind(tenant.tenantId, id)
      .first<{ n: number }>();
    expect(parts?.n).toBeGreaterThan(3);
    expect(await result({ tenantId: tenant.tenantId, importId: id })).toMatchObject({ lines: expected.lines });
  });
});
