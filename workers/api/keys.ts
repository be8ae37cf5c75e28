// Proxy keys: POST /api/v1/keys (the full key is returned once), GET /api/v1/keys,
// POST /api/v1/keys/{id}/revoke. Changes go through the tenant's ledger, which mirrors to D1.
import { Hono } from "hono";
import { z } from "zod";
import { actorRef } from "../../shared/audit.ts";
import { keyHash } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { ID_PATTERN } from "../../shared/ids.ts";
import { mintKey } from "../../shared/keys.ts";
import { checkDimension, MAX_DIMENSIONS } from "../gateway/dimensions.ts";
import { can } from "../auth/roles.ts";
import type { KeyRecord } from "../ledger/types.ts";
import { ledgerFor, type ApiEnv } from "./auth.ts";
import { apiError, invalid, jsonBody } from "./errors.ts";
import { parseInstant } from "./time.ts";

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  dimensions: z.record(z.string(), z.string()).optional(),
  expires_at: z.union([z.string(), z.number().int().positive()]).optional(),
});

type KeyRow = {
  id: string;
  name: string;
  prefix: string;
  dimensions: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
};

function keyView(k: KeyRecord) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    dimensions: k.dimensions,
    created_at: new Date(k.createdAt).toISOString(),
    expires_at: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
    revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
  };
}

export const keys = new Hono<ApiEnv>();

keys.post("/", async (c) => {
  const parsed = CreateKey.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const dimensions = parsed.data.dimensions ?? {};
  if (Object.keys(dimensions).length > MAX_DIMENSIONS) {
    return apiError(
      c,
      new AppError("bad_request", `A key may bind at most ${MAX_DIMENSIONS} dimensions.`, "dimensions"),
    );
  }
  for (const [name, value] of Object.entries(dimensions)) {
    const problem = checkDimension(name, value);
    if (problem) return apiError(c, new AppError("bad_request", problem.message, `dimensions.${name}`));
  }
  const expiresAt = parseInstant(
    parsed.data.expires_at === undefined ? undefined : String(parsed.data.expires_at),
    "expires_at",
  );
  if (expiresAt instanceof AppError) return apiError(c, expiresAt);
  if (expiresAt !== null && expiresAt <= Date.now()) {
    return apiError(c, new AppError("bad_request", "expires_at must be in the future.", "expires_at"));
  }
  const tenantId = c.get("tenantId");
  const minted = mintKey("olk", tenantId);
  const hash = await keyHash(c.env.KEY_PEPPER, minted.key);
  const record = await ledgerFor(c.env, tenantId).createKey(
    tenantId,
    {
      id: minted.id,
      hash,
      name: parsed.data.name,
      prefix: minted.prefix,
      dimensions,
      expiresAt,
    },
    Date.now(),
    c.get("actor"),
  );
  return c.json({ ...keyView(record), key: minted.key }, 201);
});

keys.get("/", async (c) => {
  const rows = await c.var.db.all<KeyRow>(
    "SELECT id, name, prefix, dimensions, created_at, expires_at, revoked_at FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at DESC, id",
  );
  return c.json({
    keys: rows.map((r) =>
      keyView({
        id: r.id,
        name: r.name,
        prefix: r.prefix,
        dimensions: JSON.parse(r.dimensions) as Record<string, string>,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        revokedAt: r.revoked_at,
      }),
    ),
  });
});

keys.post("/:id/revoke", async (c) => {
  const id = c.req.param("id");
  const notFound = new AppError("not_found", "No such key.");
  if (!ID_PATTERN.test(id)) return apiError(c, notFound);
  const tenantId = c.get("tenantId");
  if (!can(c.get("role"), "keys:any")) {
    const row = await c.var.db.first<{ created_by: string | null }>(
      "SELECT created_by FROM api_keys WHERE tenant_id = ?1 AND id = ?2",
      id,
    );
    if (!row) return apiError(c, notFound);
    if (row.created_by !== actorRef(c.get("actor"))) {
      return apiError(c, new AppError("forbidden", "Members may revoke only the keys they created."));
    }
  }
  const record = await ledgerFor(c.env, tenantId).revokeKey(tenantId, id, Date.now(), c.get("actor"));
  if (!record) return apiError(c, notFound);
  return c.json(keyView(record));
});
