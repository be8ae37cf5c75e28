// The lines of the exports: an audit event as its v1 event (docs/audit.md) or a CSV row, a usage
// event as a JSON object or a CSV row. CSV follows RFC 4180 (CRLF lines; a cell with a comma, a
// quote, CR or LF quoted, quotes doubled) and OWASP's advice on CSV injection: a cell that a
// spreadsheet would read as a formula (starting with = + - @, tab or CR) is prefixed with an
// apostrophe, except a plain number (a negative amount stays a number).
import { formatUsd } from "../../shared/money.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { auditData, auditEventFromRow, type AuditRow } from "../store/index.ts";

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/** One CSV cell: neutralised if a spreadsheet would run it, then quoted if it must be. */
export function csvCell(text: string): string {
  const safe = FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV record, CRLF-terminated; null is an empty cell. */
export function csvLine(cells: readonly (string | number | boolean | null)[]): string {
  return `${cells.map((c) => csvCell(c === null ? "" : String(c))).join(",")}\r\n`;
}

export const AUDIT_CSV_HEADER = csvLine([
  "seq",
  "at",
  "type",
  "actor_kind",
  "actor_id",
  "request_id",
  "subject",
  "data",
]);

export function auditNdjsonLine(tenantId: string, r: AuditRow): string {
  return `${JSON.stringify(auditEventFromRow(tenantId, r))}\n`;
}

export function auditCsvLine(r: AuditRow): string {
  // `data` is the stored JSON text, checked to be an object first.
  auditData(r);
  const at = new Date(r.at).toISOString();
  return csvLine([r.seq, at, r.type, r.actor_kind, r.actor_id, r.request_id, r.subject, r.data]);
}

/** The usage export's fields, in order (CSV header and JSON keys alike). */
export const USAGE_FIELDS = [
  "tenant_id",
  "request_id",
  "started_at",
  "key_id",
  "provider",
  "model",
  "endpoint",
  "stream",
  "status",
  "outcome",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
  "usage_source",
  "cost_nano_usd",
  "cost_usd",
  "unpriced",
  "price",
  "first_byte_ms",
  "total_ms",
  "dimensions",
] as const;

export const USAGE_CSV_HEADER = csvLine(USAGE_FIELDS);

/** An integer written into JSON as its digits (exact past 2^53, unlike a JS number). A class, so
 * that no stored object (a dimension named "digits") can pass for one. */
class Digits {
  constructor(readonly digits: string) {}
}

type UsageValue = string | number | boolean | null | Digits | Record<string, unknown>;

function costDigits(cost: number | null): Digits | null {
  if (cost === null) return null;
  if (!Number.isSafeInteger(cost)) throw new Error("a usage event's costNanoUsd is not an integer");
  return new Digits(String(cost));
}

/** A usage event's fields as the exports and GET /api/v1/usage/events name them (`cost_nano_usd`
 * as exact digits, for the exports only). */
export function usageValues(tenantId: string, e: UsageEvent): Record<(typeof USAGE_FIELDS)[number], UsageValue> {
  const cost = costDigits(e.costNanoUsd);
  return {
    tenant_id: tenantId,
    request_id: e.requestId,
    started_at: new Date(e.startedAt).toISOString(),
    key_id: e.keyId,
    provider: e.provider,
    model: e.model,
    endpoint: e.endpoint,
    stream: e.stream,
    status: e.status,
    outcome: e.outcome,
    input_tokens: e.usage.inputTokens,
    cached_input_tokens: e.usage.cachedInputTokens,
    cache_write_tokens: e.usage.cacheWriteTokens,
    output_tokens: e.usage.outputTokens,
    reasoning_tokens: e.usage.reasoningTokens,
    usage_source: e.usageSource,
    cost_nano_usd: cost,
    cost_usd: cost === null ? null : formatUsd(BigInt(cost.digits)),
    unpriced: e.costNanoUsd === null,
    price: e.price,
    first_byte_ms: e.firstByteMs,
    total_ms: e.totalMs,
    dimensions: e.dimensions,
  };
}

/** One usage event as a JSON object (the fields above, in order), newline-terminated. */
export function usageNdjsonLine(tenantId: string, r: UsageEvent): string {
  const values = usageValues(tenantId, r);
  const fields = USAGE_FIELDS.map((name) => {
    const value = values[name];
    return `${JSON.stringify(name)}:${value instanceof Digits ? value.digits : JSON.stringify(value)}`;
  });
  return `{${fields.join(",")}}\n`;
}

/** One usage event as a CSV record: price and dimensions as JSON text, null as an empty cell. */
export function usageCsvLine(tenantId: string, r: UsageEvent): string {
  const values = usageValues(tenantId, r);
  return csvLine(
    USAGE_FIELDS.map((name) => {
      const value = values[name];
      if (value instanceof Digits) return value.digits;
      return typeof value === "object" && value !== null ? JSON.stringify(value) : value;
    }),
  );
}
