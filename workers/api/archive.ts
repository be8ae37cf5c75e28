// The tenant's signed audit archive (docs/audit.md, "The archive"): GET /api/v1/audit/checkpoint
// (the latest signed checkpoint, as stored), GET /api/v1/audit/segments?from_seq=&limit= (the
// sealed segments, each with the checkpoint at its end) and GET /api/v1/audit/segments/{name}
// (a segment's stored gzip bytes, unchanged). The organisation is always the token's; a segment
// name is accepted only in the exact form the archive writes.
// GET /.well-known/outlay-audit-keys lists the public signing keys, with no token.
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { checkpointOrigin, toHex } from "../../shared/tlog.ts";
import { toBase64 } from "../../shared/encoding.ts";
import { latestCheckpoint, listSegments, publicKeys, readSegment } from "../archive/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";

export const archive = new Hono<ApiEnv>();

archive.get("/checkpoint", async (c) => {
  const note = await latestCheckpoint(c.env, c.var.tenantId);
  if (note === null) return apiError(c, new AppError("not_found", "Nothing is sealed in the archive yet."));
  return c.text(note, 200, { "cache-control": "no-store" });
});

archive.get("/segments", async (c) => {
  const from = c.req.query("from_seq") ?? "1";
  const limit = c.req.query("limit") ?? "100";
  if (!/^\d{1,15}$/.test(from)) {
    return apiError(c, new AppError("bad_request", "from_seq must be a sequence number.", "from_seq"));
  }
  if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 100) {
    return apiError(c, new AppError("bad_request", "limit must be 1-100.", "limit"));
  }
  const page = await listSegments(c.env, c.var.tenantId, { fromSeq: Number(from), limit: Number(limit) });
  return c.json({
    tenant_id: c.var.tenantId,
    origin: checkpointOrigin(c.var.tenantId),
    data: page.data.map((s) => ({
      name: s.name,
      first_seq: s.firstSeq,
      last_seq: s.lastSeq,
      events: s.events,
      bytes: s.bytes,
      checkpoint: s.checkpoint,
    })),
    next_from_seq: page.nextFromSeq,
  });
});

archive.get("/segments/:name", async (c) => {
  const object = await readSegment(c.env, c.var.tenantId, c.req.param("name"));
  if (object instanceof AppError) return apiError(c, object);
  return c.body(object.body, 200, {
    "content-type": "application/gzip",
    "content-length": String(object.size),
    "cache-control": "private, max-age=31536000, immutable",
  });
});

export const auditKeys = new Hono<{ Bindings: Env }>();

auditKeys.get("/outlay-audit-keys", async (c) => {
  const keys = await publicKeys(c.env);
  if (keys instanceof AppError) {
    console.error("audit signing keys unreadable", keys.code);
    return apiError(c, new AppError("internal_error", "The audit signing keys are not configured."));
  }
  return c.json(
    {
      keys: keys.map((k, i) => ({
        name: k.name,
        key_id: toHex(k.keyId),
        algorithm: "Ed25519",
        public_key: toBase64(k.publicKey),
        vkey: k.vkey,
        signing: i === 0,
      })),
    },
    200,
    { "cache-control": "public, max-age=300" },
  );
});
