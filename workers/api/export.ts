// GET /api/v1/audit/export and GET /api/v1/events/export: the tenant's audit events (v1 events in
// seq order) and usage events, streamed as NDJSON or CSV (workers/services/export.ts). Query:
// from, to ([from, to), ISO 8601 or epoch ms), format (ndjson | csv), and for audit events types.
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { exportAuditEvents, exportUsageEvents, parseExportQuery } from "../services/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";

function params(c: { req: { query(name: string): string | undefined; queries(name: string): string[] | undefined } }) {
  return {
    from: c.req.query("from"),
    to: c.req.query("to"),
    format: c.req.query("format"),
    types: c.req.queries("types"),
  };
}

export const auditExport = new Hono<ApiEnv>();

auditExport.get("/", (c) => {
  const q = parseExportQuery(params(c), "audit");
  if (q instanceof AppError) return apiError(c, q);
  const out = exportAuditEvents(c.var.db, q);
  return c.body(out.body, 200, out.headers);
});

export const eventsExport = new Hono<ApiEnv>();

eventsExport.get("/", (c) => {
  const q = parseExportQuery(params(c), "usage");
  if (q instanceof AppError) return apiError(c, q);
  const out = exportUsageEvents(c.var.db, q);
  return c.body(out.body, 200, out.headers);
});
