// GET /api/v1/audit: the tenant's audit events in the ledger's order (`seq`), oldest first,
// filtered by `type`, paged with `after` (the last seq seen) and `limit` (1-500, default 100).
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { auditData, auditEventsAfter } from "../store/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";

export const audit = new Hono<ApiEnv>();

audit.get("/", async (c) => {
  const after = c.req.query("after") ?? "0";
  const limit = c.req.query("limit") ?? "100";
  const type = c.req.query("type") ?? null;
  if (!/^\d{1,15}$/.test(after))
    return apiError(c, new AppError("bad_request", "after must be a sequence number.", "after"));
  if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 500) {
    return apiError(c, new AppError("bad_request", "limit must be 1-500.", "limit"));
  }
  if (type !== null && !/^[a-z_]+\.[a-z_]+$/.test(type)) {
    return apiError(c, new AppError("bad_request", "type must be an event type such as call.refused.", "type"));
  }
  const rows = await auditEventsAfter(c.var.db, { after: Number(after), type, limit: Number(limit) });
  const events = rows.map((r) => ({
    v: 1,
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    type: r.type,
    actor: { kind: r.actor_kind, id: r.actor_id },
    request_id: r.request_id,
    subject: r.subject,
    data: auditData(r),
  }));
  const last = rows.at(-1);
  return c.json({ events, next_after: rows.length === Number(limit) && last ? last.seq : null });
});
