// Starting and reading imports (docs/cloud.md, "Imports" and "API"): an uploaded file is stored
// in CLOUD_BILLS under the import's id, then a CloudImportWorkflow instance reads it. Every read
// is within the caller's organisation.
import { z } from "zod";
import type { AuditActor, AuditDraft } from "../../shared/audit.ts";
import { AppError, invalid } from "../../shared/errors.ts";
import { ID_PATTERN, newId } from "../../shared/ids.ts";
import { isoInstant } from "../../shared/time.ts";
import {
  closeCloudImportUpload,
  getCloudImport,
  insertCloudImport,
  listCloudImportParts,
  listCloudImports,
  recordCloudImportPart,
  tenantDb,
  type CloudImportRow,
} from "../store/index.ts";
import { ledgerFor } from "../ledger/index.ts";
import { billObjectKey, failImport, startImportWorkflow, type ImportTarget } from "./run-import.ts";

/** The largest file sent as one request body (Workers' own request limit is 100 MB). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** Multipart: parts of 50 MiB, larger (in whole MB) when the file needs more than R2's 10,000
 * parts, never over 100 MB (10⁸ bytes): so a file of up to 1 TB. */
const MIN_PART_BYTES = 50 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MB = 1_000_000;
const MAX_PART_BYTES = 100 * MB;
const MAX_FILE_BYTES = MAX_PARTS * MAX_PART_BYTES;
const FILE_NAME_MAX = 200;

export type CloudCaller = { env: Env; tenantId: string; actor: AuditActor };

export type CloudImportView = {
  id: string;
  status: CloudImportRow["status"];
  source: CloudImportRow["source"];
  file_name: string;
  format: string | null;
  schema: string | null;
  billing_periods: string[];
  rows_read: number;
  rows_stored: number;
  bytes_read: number;
  bytes_total: number;
  warnings: { code: string; message: string; row: number | null; column: string | null }[];
  warning_count: number;
  error: { code: string; message: string; row: number | null; column: string | null } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** while a multipart upload is open: what has arrived */
  upload: { state: "awaiting_parts"; part_size: number; parts_total: number } | null;
};

function partsTotal(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export function importView(row: CloudImportRow): CloudImportView {
  return {
    id: row.id,
    status: row.status,
    source: row.source,
    file_name: row.file_name,
    format: row.format,
    schema: row.schema_name,
    billing_periods: JSON.parse(row.billing_periods) as string[],
    rows_read: row.rows_read,
    rows_stored: row.rows_stored,
    bytes_read: row.status === "done" ? row.bytes_total : row.bytes_read,
    bytes_total: row.bytes_total,
    warnings: JSON.parse(row.warnings) as CloudImportView["warnings"],
    warning_count: row.warning_count,
    error: row.error === null ? null : (JSON.parse(row.error) as CloudImportView["error"]),
    created_at: new Date(row.created_at).toISOString(),
    started_at: isoInstant(row.started_at),
    finished_at: isoInstant(row.finished_at),
    upload:
      row.upload_id !== null && row.part_size !== null
        ? { state: "awaiting_parts", part_size: row.part_size, parts_total: partsTotal(row.bytes_total, row.part_size) }
        : null,
  };
}

/** An audit event of the caller's organisation, through its ledger (the ordered path). */
export async function auditCloud(
  caller: CloudCaller,
  draft: Omit<AuditDraft, "at" | "actor" | "requestId">,
  now: number,
): Promise<void> {
  await ledgerFor(caller.env, caller.tenantId).recordAudit({
    tenantId: caller.tenantId,
    drafts: [{ ...draft, at: now, actor: caller.actor, requestId: null }],
  });
}

export function actorName(actor: AuditActor): string {
  return "id" in actor ? `${actor.kind}:${actor.id}` : actor.kind;
}

/** A request's declared body length (`Content-Length`), or null when there is none or it is not a number. */
export function declaredLength(header: string | null | undefined): number | null {
  return header !== null && header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : null;
}

/** A display name: printable, one line, at most 200 characters; never used as a path. */
export function cleanFileName(name: string | undefined): string {
  const printable = (name ?? "").replace(/\p{Cc}/gu, "").trim();
  return printable.slice(0, FILE_NAME_MAX) || "upload";
}

/**
 * Stores the uploaded body and starts its import. The body's length must be declared
 * (`Content-Length`), between 1 byte and MAX_UPLOAD_BYTES.
 */
export async function createUploadImport(
  caller: CloudCaller,
  upload: { body: ReadableStream<Uint8Array> | null; length: number | null; fileName: string | undefined },
): Promise<CloudImportView | AppError> {
  if (upload.length === null) {
    return new AppError("bad_request", "Send the file's length (Content-Length); chunked uploads are not accepted.");
  }
  if (upload.length > MAX_UPLOAD_BYTES) {
    return new AppError(
      "payload_too_large",
      `A file sent as the request body may be at most ${MAX_UPLOAD_BYTES} bytes; send larger files as a multipart upload.`,
    );
  }
  if (upload.length === 0 || upload.body === null) return new AppError("bad_request", "The file is empty.");
  const db = tenantDb(caller.env.DB, caller.tenantId);
  const target = { tenantId: caller.tenantId, importId: newId() };
  const fileName = cleanFileName(upload.fileName);
  await insertCloudImport(db, {
    id: target.importId,
    source: "upload",
    file_name: fileName,
    bytes_total: upload.length,
    created_by: actorName(caller.actor),
    created_at: Date.now(),
    upload_id: null,
    part_size: null,
  });
  const stored = await storeBody(caller.env, billObjectKey(target), upload.body, upload.length);
  if (stored instanceof AppError) {
    await failImport(caller.env, target, stored.code, stored.message);
    return stored;
  }
  await auditImportCreated(caller, target.importId, {
    source: "upload",
    bytes: upload.length,
    fileName,
  });
  const notStarted = await startImportWorkflow(caller.env, target);
  if (notStarted) return notStarted;
  const row = await getCloudImport(db, target.importId);
  if (!row) throw new Error("the import just created is gone");
  return importView(row);
}

/** cloud.import_created: an import was started (upload or connector). */
export function auditImportCreated(
  caller: CloudCaller,
  importId: string,
  data: { source: "upload" | "aws"; bytes: number; fileName: string },
): Promise<void> {
  return auditCloud(caller, { type: "cloud.import_created", subject: importId, data }, Date.now());
}

/** Pipes a body of a declared length into `store` through a fixed-length stream: R2 needs the
 * length, and a body shorter or longer than declared fails here instead of being stored cut. */
async function withFixedLength<T>(
  body: ReadableStream<Uint8Array>,
  length: number,
  store: (stream: ReadableStream<Uint8Array>) => Promise<T>,
): Promise<T | AppError> {
  const fixed = new FixedLengthStream(length);
  const piped = body.pipeTo(fixed.writable);
  try {
    const [stored] = await Promise.all([store(fixed.readable), piped]);
    return stored;
  } catch {
    return new AppError("bad_request", "The body did not match its Content-Length; nothing was stored.");
  }
}

async function storeBody(
  env: Env,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
): Promise<true | AppError> {
  const stored = await withFixedLength(body, length, (stream) => env.CLOUD_BILLS.put(key, stream));
  if (stored instanceof AppError) {
    await env.CLOUD_BILLS.delete(key);
    return stored;
  }
  return true;
}

const MultipartRequest = z.strictObject({
  upload: z.literal("multipart"),
  file_name: z.string().max(FILE_NAME_MAX).optional(),
  size: z.number().int().min(1).max(MAX_FILE_BYTES),
});

function partUrl(id: string, n: number): string {
  return `/api/v1/cloud/imports/${id}/parts/${n}`;
}

/**
 * Opens a multipart upload for a file too large for one request body: the answer lists the part
 * URLs (PUT each part's bytes, in any order, each exactly `size` long), then POST …/complete.
 */
export async function createMultipartImport(caller: CloudCaller, body: unknown) {
  const parsed = MultipartRequest.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const { size } = parsed.data;
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / MB) * MB);
  const target: ImportTarget = { tenantId: caller.tenantId, importId: newId() };
  const fileName = cleanFileName(parsed.data.file_name);
  const upload = await caller.env.CLOUD_BILLS.createMultipartUpload(billObjectKey(target));
  const db = tenantDb(caller.env.DB, caller.tenantId);
  await insertCloudImport(db, {
    id: target.importId,
    source: "upload",
    file_name: fileName,
    bytes_total: size,
    created_by: actorName(caller.actor),
    created_at: Date.now(),
    upload_id: upload.uploadId,
    part_size: partSize,
  });
  await auditImportCreated(caller, target.importId, {
    source: "upload",
    bytes: size,
    fileName,
  });
  const total = partsTotal(size, partSize);
  const parts = Array.from({ length: total }, (_, i) => ({
    part_number: i + 1,
    url: partUrl(target.importId, i + 1),
    size: i + 1 < total ? partSize : size - partSize * (total - 1),
  }));
  const row = await getCloudImport(db, target.importId);
  if (!row) throw new Error("the import just created is gone");
  return { ...importView(row), parts, complete_url: `/api/v1/cloud/imports/${target.importId}/complete` };
}

/** The open multipart upload of an import of the caller's organisation, or why there is none. */
async function openUpload(caller: CloudCaller, id: string) {
  if (!ID_PATTERN.test(id)) return new AppError("not_found", "No such import.");
  const db = tenantDb(caller.env.DB, caller.tenantId);
  const row = await getCloudImport(db, id);
  if (!row) return new AppError("not_found", "No such import.");
  if (row.upload_id === null || row.part_size === null || row.status !== "queued") {
    return new AppError("conflict", "This import has no multipart upload open (it is complete, or was not one).");
  }
  const upload = caller.env.CLOUD_BILLS.resumeMultipartUpload(
    billObjectKey({ tenantId: caller.tenantId, importId: id }),
    row.upload_id,
  );
  return { db, row, upload, uploadId: row.upload_id, partSize: row.part_size };
}

export async function uploadPart(
  caller: CloudCaller,
  id: string,
  partText: string,
  part: { body: ReadableStream<Uint8Array> | null; length: number | null },
): Promise<{ part_number: number; size: number } | AppError> {
  const open = await openUpload(caller, id);
  if (open instanceof AppError) return open;
  const total = partsTotal(open.row.bytes_total, open.partSize);
  const n = /^\d{1,5}$/.test(partText) ? Number(partText) : 0;
  if (n < 1 || n > total) return new AppError("not_found", `Parts are numbered 1 to ${total}.`);
  const expected = n < total ? open.partSize : open.row.bytes_total - open.partSize * (total - 1);
  if (part.length !== expected || part.body === null) {
    return new AppError("bad_request", `Part ${n} must be exactly ${expected} bytes (Content-Length).`);
  }
  const uploaded = await withFixedLength(part.body, expected, (stream) => open.upload.uploadPart(n, stream));
  if (uploaded instanceof AppError) return uploaded;
  await recordCloudImportPart(open.db, id, { part_number: n, etag: uploaded.etag, size: expected });
  return { part_number: n, size: expected };
}

/** Every part arrived: the file is made whole in R2 and its import starts. */
export async function completeUpload(caller: CloudCaller, id: string): Promise<CloudImportView | AppError> {
  const open = await openUpload(caller, id);
  if (open instanceof AppError) return open;
  const total = partsTotal(open.row.bytes_total, open.partSize);
  const parts = await listCloudImportParts(open.db, id);
  const have = new Set(parts.map((p) => p.part_number));
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !have.has(n));
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).join(", ");
    return new AppError("conflict", `Parts still missing: ${shown}${missing.length > 20 ? ", …" : ""}.`);
  }
  await open.upload.complete(parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
  if (!(await closeCloudImportUpload(open.db, id, open.uploadId))) {
    return new AppError("conflict", "This upload was completed already.");
  }
  const notStarted = await startImportWorkflow(caller.env, { tenantId: caller.tenantId, importId: id });
  if (notStarted) return notStarted;
  const row = await getCloudImport(open.db, id);
  if (!row) throw new Error("the import just completed is gone");
  return importView(row);
}

export async function getImport(caller: CloudCaller, id: string): Promise<CloudImportView | AppError> {
  const missing = new AppError("not_found", "No such import.");
  if (!ID_PATTERN.test(id)) return missing;
  const row = await getCloudImport(tenantDb(caller.env.DB, caller.tenantId), id);
  return row ? importView(row) : missing;
}

export async function listImports(
  caller: CloudCaller,
  query: { limit?: string; before?: string },
): Promise<{ data: CloudImportView[]; next_before: string | null } | AppError> {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
    return new AppError("bad_request", "limit must be a whole number from 1 to 200.", "limit");
  }
  let before: { at: number; id: string } | null = null;
  if (query.before !== undefined) {
    const match = /^(\d{1,15})_([a-z2-7]{12})$/.exec(query.before);
    if (!match)
      return new AppError("bad_request", "before must be a next_before value from a previous page.", "before");
    before = { at: Number(match[1]), id: match[2] ?? "" };
  }
  const rows = await listCloudImports(tenantDb(caller.env.DB, caller.tenantId), { before, limit });
  const last = rows.at(-1);
  return {
    data: rows.map(importView),
    next_before: rows.length === limit && last ? `${last.created_at}_${last.id}` : null,
  };
}
