// Streamed exports of a tenant's audit events and usage events, as NDJSON or CSV: the management
// API (GET /api/v1/audit/export, /api/v1/events/export) and the dashboard (/activity/export) both
// answer with these. The body is a ReadableStream whose pull reads the next keyset page from D1
// (EXPORT_PAGE_SIZE rows, workers/store/exports.ts), so an export of any size holds at most a
// page or two in memory. A D1 failure mid-way errors the stream: the download breaks off instead
// of ending as if it were complete.
import { AUDIT_TYPES, type AuditType } from "../../shared/audit.ts";
import { AppError } from "../../shared/errors.ts";
import { parseInstant } from "../../shared/time.ts";
import { auditExportPage, type ExportRange, type TenantDb, type UsageCursor, usageEventsPage } from "../store/index.ts";
import {
  AUDIT_CSV_HEADER,
  auditCsvLine,
  auditNdjsonLine,
  USAGE_CSV_HEADER,
  usageCsvLine,
  usageNdjsonLine,
} from "./export-lines.ts";

export { csvCell } from "./export-lines.ts";

export const EXPORT_PAGE_SIZE = 1000;
export const EXPORT_MAX_TYPES = 50;

export type ExportFormat = "ndjson" | "csv";

/** The whole time line: an export without `from` or `to`. */
export const ALL_TIME: ExportRange = { from: 0, to: Number.MAX_SAFE_INTEGER };

export type AuditExportQuery = { range: ExportRange; types: readonly AuditType[] | null; format: ExportFormat };
export type UsageExportQuery = { range: ExportRange; format: ExportFormat };

/** What a route answers: the body and its headers (content type, attachment name). */
export type ExportAnswer = { body: ReadableStream<Uint8Array>; headers: Record<string, string> };

/** The query of an export as the API takes it: `from`, `to` (ISO 8601 or epoch ms, [from, to)),
 * `format` (ndjson, the default, or csv) and, for audit events, `types` (a comma list, or the
 * parameter repeated, of at most 50 AUDIT_TYPES). Each problem is a 400 naming its parameter. */
export function parseExportQuery(
  q: { from?: string; to?: string; format?: string; types?: readonly string[] },
  kind: "audit",
): AuditExportQuery | AppError;
export function parseExportQuery(
  q: { from?: string; to?: string; format?: string; types?: readonly string[] },
  kind: "usage",
): UsageExportQuery | AppError;
export function parseExportQuery(
  q: { from?: string; to?: string; format?: string; types?: readonly string[] },
  kind: "audit" | "usage",
): AuditExportQuery | UsageExportQuery | AppError {
  const from = parseInstant(q.from, "from");
  if (from instanceof AppError) return from;
  const to = parseInstant(q.to, "to");
  if (to instanceof AppError) return to;
  if (from !== null && to !== null && to <= from) return new AppError("bad_request", "to must be after from.", "to");
  const format = q.format === undefined || q.format === "" ? "ndjson" : q.format;
  if (format !== "ndjson" && format !== "csv") {
    return new AppError("bad_request", "format must be ndjson or csv.", "format");
  }
  const range = { from: from ?? ALL_TIME.from, to: to ?? ALL_TIME.to };
  const names = (q.types ?? [])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter(Boolean);
  if (kind === "usage") {
    if (names.length > 0) return new AppError("bad_request", "Usage events have no types to choose.", "types");
    return { range, format };
  }
  const types = parseTypes(names);
  return types instanceof AppError ? types : { range, types, format };
}

function parseTypes(names: string[]): AuditType[] | null | AppError {
  if (names.length === 0) return null;
  if (names.length > EXPORT_MAX_TYPES) {
    return new AppError("bad_request", `types takes at most ${EXPORT_MAX_TYPES} event types.`, "types");
  }
  const known: readonly string[] = AUDIT_TYPES;
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) {
    return new AppError("bad_request", `types: "${unknown.slice(0, 60)}" is not an audit event type.`, "types");
  }
  return [...new Set(names)] as AuditType[];
}

/** A stream that reads one page per pull, writes its lines as one chunk and closes after a short
 * page; `header` goes first (CSV). */
function pagedStream<Row, Cursor>(p: {
  header: string;
  start: Cursor;
  page(cursor: Cursor): Promise<Row[]>;
  after(row: Row): Cursor;
  line(row: Row): string;
}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let cursor = p.start;
  let header = p.header;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let rows: Row[];
      let text: string;
      try {
        rows = await p.page(cursor);
        text = header + rows.map((r) => p.line(r)).join("");
      } catch (error) {
        // Logged without the data: the name of the failure only.
        console.error("export failed", error instanceof Error ? error.name : "unknown");
        controller.error(error);
        return;
      }
      header = "";
      const last = rows.at(-1);
      if (last !== undefined) cursor = p.after(last);
      if (text) controller.enqueue(encoder.encode(text));
      if (rows.length < EXPORT_PAGE_SIZE) controller.close();
    },
  });
}

function answer(
  body: ReadableStream<Uint8Array>,
  name: string,
  tenantId: string,
  format: ExportFormat,
  now: number,
): ExportAnswer {
  const day = new Date(now).toISOString().slice(0, 10).replaceAll("-", "");
  return {
    body,
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
      "content-disposition": `attachment; filename="outlay-${name}-${tenantId}-${day}.${format}"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  };
}

/** The tenant's audit events in seq order: v1 events (NDJSON) or CSV rows. */
export function exportAuditEvents(db: TenantDb, q: AuditExportQuery, now = Date.now()): ExportAnswer {
  const csv = q.format === "csv";
  const body = pagedStream({
    header: csv ? AUDIT_CSV_HEADER : "",
    start: 0,
    page: (after: number) => auditExportPage(db, { after, range: q.range, types: q.types, limit: EXPORT_PAGE_SIZE }),
    after: (r) => r.seq,
    line: (r) => (csv ? auditCsvLine(r) : auditNdjsonLine(db.tenantId, r)),
  });
  return answer(body, "audit", db.tenantId, q.format, now);
}

/** The tenant's usage events in (started_at, request_id) order: JSON objects (NDJSON) or CSV rows. */
export function exportUsageEvents(db: TenantDb, q: UsageExportQuery, now = Date.now()): ExportAnswer {
  const csv = q.format === "csv";
  const body = pagedStream({
    header: csv ? USAGE_CSV_HEADER : "",
    start: { at: q.range.from, id: "" },
    page: (cursor: UsageCursor) =>
      usageEventsPage(db, { order: "asc", cursor, from: q.range.from, to: q.range.to, limit: EXPORT_PAGE_SIZE }),
    after: (e) => ({ at: e.startedAt, id: e.requestId }),
    line: (r) => (csv ? usageCsvLine(db.tenantId, r) : usageNdjsonLine(db.tenantId, r)),
  });
  return answer(body, "events", db.tenantId, q.format, now);
}
