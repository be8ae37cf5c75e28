// Proxy keys: POST /api/v1/keys (the full key is returned once), GET /api/v1/keys,
// POST /api/v1/keys/{id}/revoke. Changes go through the tenant's ledger, which mirrors to D1.
import { Hono } from "hono";
import { z } from "zod";
import { actorRef, type AuditActor } from "../../shared/audit.ts";
import { keyHash } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { ID_PATTERN } from "../../shared/ids.ts";
import { mintKey } from "../../shared/keys.ts";
import { tenantDb } from "../../shared/tenant-db.ts";
import { checkDimension, MAX_DIMENSIONS } from "../gateway/dimensions.ts";
import { can, type Role } from "../auth/roles.ts";
import type { KeyRecord } from "../ledger/types.ts";
import { ledgerFor, type ApiEnv } from "./auth.ts";
import { apiError, invalid, jsonBody } from "./errors.ts";
import { parseInstant } from "./time.ts";

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  dimensions: z.record(z.string(), z.string()).optional(),
  expires_at: z.union([z.string(), z.number().int().positive()]).optional(),
});

/** An api_keys row as listed (D1 mirror of the ledger's keys). */
export type KeyRow = {
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

export type NewProxyKey = { name: string; dimensions: Record<string, string>; expiresAt: number | null };

/** Checks a key's dimensions and expiry; the problem as an AppError naming the field, or null. */
export function proxyKeyProblem(k: NewProxyKey, now = Date.now()): AppError | null {
  if (Object.keys(k.dimensions).length > MAX_DIMENSIONS) {
    return new AppError("bad_request", `A key may bind at most ${MAX_DIMENSIONS} dimensions.`, "dimensions");
  }
  for (const [name, value] of Object.entries(k.dimensions)) {
    const problem = checkDimension(name, value);
    if (problem) return new AppError("bad_request", problem.message, `dimensions.${name}`);
  }
  if (k.expiresAt !== null && k.expiresAt <= now) {
    return new AppError("bad_request", "expires_at must be in the future.", "expires_at");
  }
  return null;
}

/** Mints a proxy key, hands its hash to the tenant's ledger (which mirrors it to D1 and audits
 * it with `actor`), and returns the record and the full key — the only time it exists. */
export async function createProxyKey(env: Env, tenantId: string, k: NewProxyKey, actor: AuditActor) {
  const minted = mintKey("olk", tenantId);
  const hash = await keyHash(env.KEY_PEPPER, minted.key);
  const record = await ledgerFor(env, tenantId).createKey(
    tenantId,
    { id: minted.id, hash, name: k.name, prefix: minted.prefix, dimensions: k.dimensions, expiresAt: k.expiresAt },
    Date.now(),
    actor,
  );
  return { record, key: minted.key };
}

keys.post("/", async (c) => {
  const parsed = CreateKey.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const expiresAt = parseInstant(
    parsed.data.expires_at === undefined ? undefined : String(parsed.data.expires_at),
    "expires_at",
  );
  if (expiresAt instanceof AppError) return apiError(c, expiresAt);
  const input = { name: parsed.data.name, dimensions: parsed.data.dimensions ?? {}, expiresAt };
  const problem = proxyKeyProblem(input);
  if (problem) return apiError(c, problem);
  const { record, key } = await createProxyKey(c.env, c.get("tenantId"), input, c.get("actor"));
  return c.json({ ...keyView(record), key }, 201);
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

/** Revokes a key if `role` may: `keys:any` revokes any key, `keys:own` only keys `actor` made. */
export async function revokeProxyKey(
  env: Env,
  tenantId: string,
  id: string,
  who: { role: Role; actor: AuditActor },
): Promise<KeyRecord | AppError> {
  const notFound = new AppError("not_found", "No such key.");
  if (!ID_PATTERN.test(id)) return notFound;
  if (!can(who.role, "keys:any")) {
    const row = await tenantDb(env.DB, tenantId).first<{ created_by: string | null }>(
      "SELECT created_by FROM api_keys WHERE tenant_id = ?1 AND id = ?2",
      id,
    );
    if (!row) return notFound;
    if (!can(who.role, "keys:own") || row.created_by !== actorRef(who.actor)) {
      return new AppError("forbidden", "Members may revoke only the keys they created.");
    }
  }
  const record = await ledgerFor(env, tenantId).revokeKey(tenantId, id, Date.now(), who.actor);
  return record ?? notFound;
}

keys.post("/:id/revoke", async (c) => {
  const revoked = await revokeProxyKey(c.env, c.get("tenantId"), c.req.param("id"), {
    role: c.get("role"),
    actor: c.get("actor"),
  });
  if (revoked instanceof AppError) return apiError(c, revoked);
  return c.json(keyView(revoked));
});
