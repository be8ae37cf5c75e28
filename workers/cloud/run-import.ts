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
import {
  openBill,
  parseNano,
  r2Source,
  type BillEvent,
  type BillProblem,
  type OpenedBill,
  type ReadPosition,
} from "./parse/index.ts";

const FLUSH_GROUPS = 20_000;
const ROWS_PER_INSERT = 1_000;
const DELETE_CHUNK = 10_000;
const PROGRESS_EVERY_MS = 2_000;
/** About 20 ms of work at 100,000 lines a second. */
const YIELD_EVERY_ROWS = 2_000;
const WARNINGS_KEPT = 50;
/** Unknown AI kinds (service, usage type) remembered to warn once each; past this, no more such warnings. */
const UNKNOWN_KINDS_KEPT = 200;

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

/** Warnings as a part's checkpoint holds them. */
type WarningState = { kept: Warning[]; count: number; unknownSeen: string[] };

class Warnings {
  readonly kept: Warning[];
  count: number;
  readonly #unknownSeen: Set<string>;

  constructor(state: WarningState = { kept: [], count: 0, unknownSeen: [] }) {
    this.kept = [...state.kept];
    this.count = state.count;
    this.#unknownSeen = new Set(state.unknownSeen);
  }

  add(w: Warning): void {
    this.count += 1;
    if (this.kept.length < WARNINGS_KEPT) this.kept.push(w);
  }

  /** An AI-looking line no rule knew: reported once per service and usage type (the first UNKNOWN_KINDS_KEPT). */
  unknownAi(row: number, service: string, usageType: string): void {
    const key = `${service}\u0000${usageType}`;
    if (this.#unknownSeen.has(key) || this.#unknownSeen.size >= UNKNOWN_KINDS_KEPT) return;
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

  get state(): WarningState {
    return { kept: this.kept, count: this.count, unknownSeen: [...this.#unknownSeen] };
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
): Promise<{ status: "failed" }> {
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

async function flush(db: TenantDb, t: ImportTarget, part: number, sums: LineAggregator): Promise<number> {
  const rows = sums.drain();
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await insertCloudLines(db, t.importId, part, rows.slice(i, i + ROWS_PER_INSERT));
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
 * Where an import's reading stands between two parts, as plain data (a Workflow step's result):
 * its files, the one being read and where in it, and what the parts before have counted.
 */
export type ImportCheckpoint = {
  files: { key: string; size: number }[];
  /** the file read next (files.length: all read) */
  file: number;
  /** where in that file (null: its start) */
  from: ReadPosition | null;
  /** the next part's number; the lines a part writes carry it */
  part: number;
  rowsRead: number;
  rowsStored: number;
  /** the sizes of the files before `file` */
  bytesBefore: number;
  warnings: WarningState;
  periodKeys: string[];
  billingPeriods: string[];
};

/** How a step of the import ended: more to read, all read, or the import failed or had ended already. */
export type PartOutcome =
  | { status: "reading" | "read"; checkpoint: ImportCheckpoint }
  | { status: "failed" }
  | { status: "skipped" };

/** How a run ended; `superseded`: the imports whose lines the done import's periods replaced. */
export type RunOutcome = { status: "done"; superseded: string[] } | { status: "failed" } | { status: "skipped" };

/** An opened file kept between parts, so that a part following the one before reads on without opening it again. */
type Reading = { bill: OpenedBill; events: AsyncGenerator<BillEvent> };

/**
 * The file a part stopped in, still open, for the next part: used only when the next part starts
 * exactly where it stopped (a retried part starts where the failed one did, and opens its file
 * again there). A Workflow instance keeps one; losing it (another isolate) costs only the reopening.
 */
export class OpenReadings {
  #kept: { key: string; reading: Reading } | null = null;

  /** The reading kept at `key` (readingKey); any other is closed. */
  take(key: string): Reading | null {
    const kept = this.#kept;
    this.#kept = null;
    if (kept !== null && kept.key !== key) {
      void kept.reading.events.return(undefined);
      return null;
    }
    return kept?.reading ?? null;
  }

  keep(key: string, reading: Reading): void {
    this.clear();
    this.#kept = { key, reading };
  }

  clear(): void {
    void this.#kept?.reading.events.return(undefined);
    this.#kept = null;
  }
}

function readingKey(t: ImportTarget, file: number, from: ReadPosition | null): string {
  return JSON.stringify([t.importId, file, from]);
}

/**
 * A part reads for about this long, then stops at the next place (a Workflow step stays well under
 * its CPU limit); CLOUD_IMPORT_PART_MS changes it.
 */
const DEFAULT_PART_MS = 10_000;

export function partBudgetMs(env: Env): number {
  // Unset, empty or not a number: the default (a host that passes no vars, as the benchmark's).
  const configured = Number.parseInt(env.CLOUD_IMPORT_PART_MS, 10);
  return Number.isFinite(configured) && configured >= 0 ? configured : DEFAULT_PART_MS;
}

/**
 * The import's first step: "skipped" when it had already ended (a repeated run); else whatever an
 * earlier run wrote is deleted and its files listed. Fails the import when there is no file.
 */
export async function beginImport(env: Env, t: ImportTarget): Promise<PartOutcome> {
  const db = tenantDb(env.DB, t.tenantId);
  const row = await getCloudImport(db, t.importId);
  if (!row || row.status === "done" || row.status === "failed") return { status: "skipped" };
  await deleteAll((limit) => deleteCloudImportLines(db, t.importId, limit));
  const files = await storedFiles(env.CLOUD_BILLS, t);
  if (files.length === 0) {
    const missing = { code: "file_missing", message: "The bill file is not there.", row: null, column: null } as const;
    return fail(db, t, missing, { rowsRead: 0, bytesRead: 0, warnings: "[]", warningCount: 0 });
  }
  return {
    status: "reading",
    checkpoint: {
      files: files.map((f) => ({ key: f.key, size: f.size })),
      file: 0,
      from: null,
      part: 0,
      rowsRead: 0,
      rowsStored: 0,
      bytesBefore: 0,
      warnings: { kept: [], count: 0, unknownSeen: [] },
      periodKeys: [],
      billingPeriods: [],
    },
  };
}

/**
 * One part of the import: from the checkpoint on, reads, classifies and stores for about
 * `budgetMs`, then stops at the next place the reader offers (or a file's end) and answers where
 * it stopped. A part can be repeated from the same checkpoint (a retried step): it first deletes
 * the lines its earlier attempt wrote. Throws only when storage fails.
 */
export async function importPart(
  env: Env,
  t: ImportTarget,
  start: ImportCheckpoint,
  readings: OpenReadings,
  budgetMs = partBudgetMs(env),
): Promise<PartOutcome> {
  const db = tenantDb(env.DB, t.tenantId);
  const row = await getCloudImport(db, t.importId);
  if (!row || row.status === "done" || row.status === "failed") return { status: "skipped" };
  await deleteAll((limit) => deleteCloudImportLines(db, t.importId, limit, start.part));
  const deadline = Date.now() + budgetMs;
  const warnings = new Warnings(start.warnings);
  const sums = new LineAggregator(start.periodKeys, start.billingPeriods);
  let { file, from, rowsRead, rowsStored, bytesBefore } = start;
  let current: OpenedBill | null = null;
  const progress = (): CloudImportProgress => ({
    rowsRead,
    bytesRead: bytesBefore + (current?.bytesRead() ?? 0),
    warnings: warnings.json,
    warningCount: warnings.count,
  });
  const stopped = async (status: "reading" | "read"): Promise<PartOutcome> => {
    rowsStored += await flush(db, t, start.part, sums);
    await recordCloudImportProgress(db, t.importId, progress());
    const checkpoint: ImportCheckpoint = {
      files: start.files,
      file,
      from,
      part: start.part + 1,
      rowsRead,
      rowsStored,
      bytesBefore,
      warnings: warnings.state,
      periodKeys: sums.periodKeys,
      billingPeriods: sums.billingPeriods,
    };
    return { status, checkpoint };
  };
  let reported = Date.now();
  while (file < start.files.length) {
    const stored = start.files[file] as { key: string; size: number };
    let reading = readings.take(readingKey(t, file, from));
    if (reading === null) {
      const opened = await openBill(r2Source(env.CLOUD_BILLS, stored.key, stored.size), { from: from ?? undefined });
      if ("code" in opened) return fail(db, t, opened, progress());
      if (file === 0 && from === null) {
        await startCloudImport(db, t.importId, Date.now(), { format: opened.format, schema: opened.schema });
      }
      reading = { bill: opened, events: opened.read() };
    }
    current = reading.bill;
    for (;;) {
      const next = await reading.events.next();
      if (next.done === true) break;
      const item = next.value;
      if (item.kind === "error") return fail(db, t, item.problem, progress());
      if (item.kind === "warning") {
        warnings.add(item.problem);
      } else {
        const line = item.line;
        rowsRead += 1;
        const kind = classify(line);
        if (kind.unknownAi)
          warnings.unknownAi(line.row, line.serviceCode ?? line.serviceName ?? "", line.usageType ?? "");
        sums.add(line, kind, usageMicro(line.usageAmount));
        if (sums.size >= FLUSH_GROUPS) rowsStored += await flush(db, t, start.part, sums);
        // The isolate also answers pages and API calls: give them a turn every so many lines.
        if (rowsRead % YIELD_EVERY_ROWS === 0) await new Promise((resume) => setTimeout(resume, 0));
      }
      if (Date.now() - reported >= PROGRESS_EVERY_MS) {
        reported = Date.now();
        await recordCloudImportProgress(db, t.importId, progress());
      }
      const position = Date.now() >= deadline ? reading.bill.position() : null;
      if (position !== null) {
        from = position;
        readings.keep(readingKey(t, file, from), reading);
        return stopped("reading");
      }
    }
    bytesBefore += stored.size;
    current = null;
    file += 1;
    from = null;
    if (Date.now() >= deadline && file < start.files.length) return stopped("reading");
  }
  return stopped("read");
}

/** The import's last step: its billing periods now count its lines (or it fails: no lines at all). */
export async function finishImport(env: Env, t: ImportTarget, end: ImportCheckpoint): Promise<RunOutcome> {
  const db = tenantDb(env.DB, t.tenantId);
  const row = await getCloudImport(db, t.importId);
  if (!row || row.status === "done" || row.status === "failed") return { status: "skipped" };
  const progress: CloudImportProgress = {
    rowsRead: end.rowsRead,
    bytesRead: end.bytesBefore,
    warnings: JSON.stringify(end.warnings.kept),
    warningCount: end.warnings.count,
  };
  if (end.rowsRead === 0) {
    const empty = {
      code: "no_lines",
      message: "The file has a header but no bill lines.",
      row: null,
      column: null,
    } as const;
    return fail(db, t, empty, progress);
  }
  const superseded = await completeCloudImport(db, t.importId, Date.now(), {
    ...progress,
    periodKeys: end.periodKeys,
    billingPeriods: JSON.stringify(end.billingPeriods),
    rowsStored: end.rowsStored,
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
