// Helpers of the export tests: the v1 event's zod shape (test/shared/v1-event.ts), a strict
// RFC 4180 reader, an NDJSON reader, and audit and usage rows written straight into D1 through
// the stores (far in the past, and at seqs the ledger never reaches in a test, so that the access
// events every API request adds never collide with them).
import { env } from "cloudflare:workers";
import type { AuditEvent } from "../../shared/audit.ts";
import { insertAuditEvents, tenantDb } from "../../workers/store/index.ts";

export { V1Event } from "../shared/v1-event.ts";

/** 2001-01-01T00:00:00Z: seeded events live in 2001, where no real event of a test can be. */
export const EPOCH_2001 = Date.UTC(2001, 0, 1);
/** Seeded seqs start here, far above what a test's ledger numbers. */
export const SEQ_BASE = 1_000_000;

/** RFC 4180, strictly: records end in CRLF, quoted cells double their quotes, and anything else
 * (a bare quote, an unclosed quote, a record without its CRLF) throws. */
export function readCsv(body: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let i = 0;
  let quotedCell = false;
  while (i < body.length) {
    const ch = body[i];
    if (ch === '"' && cell === "" && !quotedCell) {
      quotedCell = true;
      let j = i + 1;
      for (;;) {
        if (j >= body.length) throw new Error(`unclosed quote at ${i}`);
        if (body[j] === '"') {
          if (body[j + 1] === '"') {
            cell += '"';
            j += 2;
            continue;
          }
          break;
        }
        cell += body[j];
        j++;
      }
      i = j + 1;
      if (i < body.length && body[i] !== "," && body[i] !== "\r") throw new Error(`text after a quoted cell at ${i}`);
      continue;
    }
    if (ch === '"') throw new Error(`bare quote at ${i}`);
    if (ch === ",") {
      row.push(cell);
      cell = "";
      quotedCell = false;
      i++;
    } else if (ch === "\r") {
      if (body[i + 1] !== "\n") throw new Error(`CR without LF at ${i}`);
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      quotedCell = false;
      i += 2;
    } else if (ch === "\n") {
      throw new Error(`LF without CR at ${i}`);
    } else {
      cell += ch;
      i++;
    }
  }
  if (cell !== "" || row.length > 0 || quotedCell) throw new Error("the last record has no CRLF");
  return rows;
}

/** Every line of an NDJSON body, parsed; the body must end in a newline (or be empty). */
export function readNdjson(body: string): unknown[] {
  if (body === "") return [];
  if (!body.endsWith("\n")) throw new Error("NDJSON body does not end in a newline");
  return body
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as unknown);
}

export function auditEvent(tenantId: string, n: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq: SEQ_BASE + n,
    at: EPOCH_2001 + n * 1000,
    type: "rule.created",
    actor: { kind: "admin", id: "abcdefghijkl" },
    requestId: null,
    subject: `rule${String(n).padStart(8, "0")}`,
    data: { kind: "budget", name: `rule ${n}` },
    ...over,
  };
}

/** Writes the events through the audit consumer's own store function, 500 a batch. */
export async function seedAudit(tenantId: string, events: readonly AuditEvent[]): Promise<void> {
  const db = tenantDb(env.DB, tenantId);
  for (let i = 0; i < events.length; i += 500) await insertAuditEvents(db, events.slice(i, i + 500));
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
