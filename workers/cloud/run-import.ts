// One import, start to end (docs/cloud.md, "Imports"): the stored file is read by ranges from R2,
// each line classified and summed per day (aggregate.ts), the sums written under the import's
// own id; at the end one batch makes the file's billing periods count this import's lines.
// Memory is bounded (the reader streams; the sums are flushed every FLUSH_GROUPS groups). A run
// can be repeated (a retried Workflow step): it first deletes what an earlier run wrote.
import {
  completeCloudImport,
  deleteCloudImportLines,
  deleteSupersededLines,
  failCloudImport,
  getCloudImport,
  insertCloudLines,
  recordCloudImportProgress,
  startCloudImport,
  tenantDb,
  type CloudImportProgress,
  type TenantDb,
} from "../store/index.ts";
import { AppError } from "../../shared/errors.ts";
import { LineAggregator } from "./aggregate.ts";
import { classify } from "./classify/index.ts";
import { openBill, parseNano, r2Source, type BillProblem, type OpenedBill } from "./parse/index.ts";

const FLUSH_GROUPS = 20_000;
const ROWS_PER_INSERT = 1_000;
const DELETE_CHUNK = 10_000;
const PROGRESS_EVERY_MS = 2_000;
/** About 20 ms of work at 100,000 lines a second. */
const YIELD_EVERY_ROWS = 2_000;
const WARNINGS_KEPT = 50;

export type ImportTarget = { tenantId: string; importId: string };

/** What a connector import's Workflow copies first: one billing period's data files (no credential:
 * the Workflow assumes the role itself). */
export type FetchPlan = { billingPeriod: string; fingerprint: string; files: { key: string; size: number | null }[] };

/** A CloudImportWorkflow's parameters. */
export type ImportParams = ImportTarget & { fetch?: FetchPlan };

/** Starts the import's Workflow; if it cannot start, the import fails and its files are deleted. */
export async function startImportWorkflow(env: Env, params: ImportParams): Promise<AppError | null> {
  try {
    await env.CLOUD_IMPORT.create({ id: params.importId, params });
    return null;
  } catch (thrown) {
    console.error("cloud import could not start", params.importId, thrown instanceof Error ? thrown.name : "unknown");
    const message = "The import could not be started; nothing of it was kept. Try again.";
    await failImport(env, params, "internal_error", message);
    await cleanUpImport(env, params, [params.importId]);
    return new AppError("internal_error", message);
  }
}

/** How a run ended; `superseded`: the imports whose lines the done import's periods replaced. */
export type RunOutcome = { status: "done"; superseded: string[] } | { status: "failed" } | { status: "skipped" };

/** Where an import's file waits in CLOUD_BILLS until the import ends. */
export function billObjectKey(t: ImportTarget): string {
  return `${billPrefix(t.tenantId)}${t.importId}`;
}

/** Every bill of one organisation is under this prefix. */
export function billPrefix(tenantId: string): string {
  return `bills/${tenantId}/`;
}

/** What an import records: the reader's problems, and its own (file missing, no lines, AI unknown). */
type Warning = Omit<BillProblem, "code"> & { code: string };

class Warnings {
  readonly kept: Warning[] = [];
  count = 0;
  readonly #unknownSeen = new Set<string>();

  add(w: Warning): void {
    this.count += 1;
    if (this.kept.length < WARNINGS_KEPT) this.kept.push(w);
  }

  /** An AI-looking line no rule knew: reported once per service and usage type. */
  unknownAi(row: number, service: string, usageType: string): void {
    const key = `${service}\u0000${usageType}`;
    if (this.#unknownSeen.has(key)) return;
    this.#unknownSeen.add(key);
    const what = [service, usageType].filter(Boolean).join(", ");
    this.add({
      code: "unknown_ai",
      message: `Looks like AI spend but no rule knows it (${what.slice(0, 200)}); counted as other_ai.`,
      row,
      column: null,
    });
  }

  get json(): string {
    return JSON.stringify(this.kept);
  }
}

/** A usage quantity in micro-units (rounded half away from zero); 0 when absent or unreadable. */
function usageMicro(text: string | null): bigint {
  const nano = text === null ? null : parseNano(text);
  if (nano === null) return 0n;
  return (nano >= 0n ? nano + 500n : nano - 500n) / 1000n;
}

async function deleteAll(remove: (limit: number) => Promise<number>): Promise<void> {
  while ((await remove(DELETE_CHUNK)) === DELETE_CHUNK) {
    // a chunk at a time, so one statement never holds D1 long
  }
}

async function fail(
  db: TenantDb,
  t: ImportTarget,
  problem: Warning,
  progress: CloudImportProgress,
): Promise<RunOutcome> {
  await deleteAll((limit) => deleteCloudImportLines(db, t.importId, limit));
  const error = JSON.stringify({
    code: problem.code,
    message: problem.message,
    row: problem.row,
    column: problem.column,
  });
  await failCloudImport(db, t.importId, Date.now(), { ...progress, error });
  return { status: "failed" };
}

async function flush(db: TenantDb, t: ImportTarget, sums: LineAggregator): Promise<number> {
  const rows = sums.drain();
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await insertCloudLines(db, t.importId, rows.slice(i, i + ROWS_PER_INSERT));
  }
  return rows.length;
}

/** The import's stored files in order: the upload itself, or a connector import's `<key>/0001…`. */
async function storedFiles(bucket: R2Bucket, t: ImportTarget): Promise<R2Object[]> {
  const base = billObjectKey(t);
  const files: R2Object[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: base, cursor, limit: 1000 });
    files.push(...page.objects.filter((o) => o.key === base || o.key.startsWith(`${base}/`)));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return files.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * Reads, classifies and stores the import's files; "done" or "failed" as recorded on the import,
 * "skipped" when the import had already ended (a repeated run). Throws only when storage fails
 * (the Workflow step is retried).
 */
export async function runImport(env: Env, t: ImportTarget): Promise<RunOutcome> {
  const db = tenantDb(env.DB, t.tenantId);
  const row = await getCloudImport(db, t.importId);
  if (!row || row.status === "done" || row.status === "failed") return { status: "skipped" };
  await deleteAll((limit) => deleteCloudImportLines(db, t.importId, limit));
  const warnings = new Warnings();
  let rowsRead = 0;
  let bytesBefore = 0;
  let current: OpenedBill | null = null;
  const progress = (): CloudImportProgress => ({
    rowsRead,
    bytesRead: bytesBefore + (current?.bytesRead() ?? 0),
    warnings: warnings.json,
    warningCount: warnings.count,
  });
  const files = await storedFiles(env.CLOUD_BILLS, t);
  if (files.length === 0) {
    const missing = { code: "file_missing", message: "The bill file is not there.", row: null, column: null } as const;
    return fail(db, t, missing, progress());
  }
  const sums = new LineAggregator();
  let rowsStored = 0;
  let reported = Date.now();
  for (const file of files) {
    const opened = await openBill(r2Source(env.CLOUD_BILLS, file.key, file.size));
    if ("code" in opened) return fail(db, t, opened, progress());
    current = opened;
    if (file === files[0]) {
      await startCloudImport(db, t.importId, Date.now(), { format: opened.format, schema: opened.schema });
    }
    for await (const item of opened.read()) {
      if (item.kind === "error") return fail(db, t, item.problem, progress());
      if (item.kind === "warning") {
        warnings.add(item.problem);
        continue;
      }
      const line = item.line;
      rowsRead += 1;
      const kind = classify(line);
      if (kind.unknownAi)
        warnings.unknownAi(line.row, line.serviceCode ?? line.serviceName ?? "", line.usageType ?? "");
      sums.add(line, kind, usageMicro(line.usageAmount));
      if (sums.size >= FLUSH_GROUPS) rowsStored += await flush(db, t, sums);
      // The isolate also answers pages and API calls: give them a turn every so many lines.
      if (rowsRead % YIELD_EVERY_ROWS === 0) await new Promise((resume) => setTimeout(resume, 0));
      if (Date.now() - reported >= PROGRESS_EVERY_MS) {
        reported = Date.now();
        await recordCloudImportProgress(db, t.importId, progress());
      }
    }
    bytesBefore += file.size;
    current = null;
  }
  if (rowsRead === 0) {
    const empty = {
      code: "no_lines",
      message: "The file has a header but no bill lines.",
      row: null,
      column: null,
    } as const;
    return fail(db, t, empty, progress());
  }
  rowsStored += await flush(db, t, sums);
  const superseded = await completeCloudImport(db, t.importId, Date.now(), {
    ...progress(),
    periodKeys: sums.periodKeys,
    billingPeriods: JSON.stringify(sums.billingPeriods),
    rowsStored,
  });
  return { status: "done", superseded };
}

/** After an import ended: the lines its periods no longer count, and its files, are deleted. */
export async function cleanUpImport(env: Env, t: ImportTarget, superseded: readonly string[]): Promise<void> {
  const db = tenantDb(env.DB, t.tenantId);
  for (const importId of superseded) {
    await deleteAll((limit) => deleteSupersededLines(db, importId, limit));
  }
  const files = await storedFiles(env.CLOUD_BILLS, t);
  if (files.length > 0) await env.CLOUD_BILLS.delete(files.map((f) => f.key));
}

/** Ends an import as failed with a reason of the caller's (the Workflow's own failures). */
export async function failImport(env: Env, t: ImportTarget, code: string, message: string): Promise<void> {
  const db = tenantDb(env.DB, t.tenantId);
  const row = await getCloudImport(db, t.importId);
  await fail(
    db,
    t,
    { code, message, row: null, column: null },
    {
      rowsRead: row?.rows_read ?? 0,
      bytesRead: row?.bytes_read ?? 0,
      warnings: row?.warnings ?? "[]",
      warningCount: row?.warning_count ?? 0,
    },
  );
}
