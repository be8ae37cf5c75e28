// Proxy keys: POST /api/v1/keys (the full key is returned once), GET /api/v1/keys,
// POST /api/v1/keys/{id}/rotate (a new secret, the old one valid for a grace period; the new key
// is returned once), POST /api/v1/keys/{id}/revoke. Changes go through the tenant's ledger, which
// mirrors to D1. The dashboard uses the same service
// (workers/services/keys.ts).
import { Hono } from "hono";
import { z } from "zod";
import { AppError, invalid } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import type { KeyRecord } from "../ledger/index.ts";
import {
  createProxyKey,
  Dimensions,
  listKeys,
  MAX_GRACE_SECONDS,
  type NewProxyKey,
  proxyKeyProblem,
  revokeProxyKey,
  rotateProxyKey,
} from "../services/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError, jsonBody } from "./errors.ts";
import { parseInstant } from "../../shared/time.ts";

/** Response header of a rotation retried with an Idempotency-Key already used: nothing changed. */
export const REPLAY_HEADER = "x-outlay-idempotent-replay";

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  dimensions: Dimensions.optional(),
  expires_at: z.union([z.string(), z.number().int().positive()]).optional(),
  allow_models: z.array(z.string()).nullable().optional(),
  requests_per_minute: z.number().nullable().optional(),
  tokens_per_minute: z.number().nullable().optional(),
});

const RotateKey = z.strictObject({
  grace_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS),
});

/** An Idempotency-Key header: 1 to 255 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function keyView(k: KeyRecord) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    key_hint: k.hint === null ? null : `…${k.hint}`,
    dimensions: k.dimensions,
    created_at: iso(k.createdAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
    rotated_at: iso(k.rotatedAt),
    previous_key_hint: k.previousHint === null ? null : `…${k.previousHint}`,
    previous_valid_until: iso(k.previousUntil),
  };
}

export const keys = new Hono<ApiEnv>();

keys.post("/", async (c) => {
  const parsed = CreateKey.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const expiresAt = parseInstant(
    parsed.data.expires_at === undefined ? undefined : String(parsed.data.expires_at),
    "expires_at",
  );
  if (expiresAt instanceof AppError) return apiError(c, expiresAt);
  const input: NewProxyKey = {
    name: parsed.data.name,
    dimensions: parsed.data.dimensions ?? {},
    expiresAt,
    limits: {
      allowModels: parsed.data.allow_models ?? null,
      requestsPerMinute: parsed.data.requests_per_minute ?? null,
      tokensPerMinute: parsed.data.tokens_per_minute ?? null,
    },
  };
  const problem = proxyKeyProblem(input);
  if (problem) return apiError(c, problem);
  const created = await createProxyKey(c.env, c.get("tenantId"), input, c.get("actor"));
  if (created instanceof AppError) return apiError(c, created);
  return c.json({ ...keyView(created.record), key: created.key }, 201);
});

keys.get("/", async (c) => {
  const rows = await listKeys(c.env, c.get("tenantId"));
  return c.json({ keys: rows.map(keyView) });
});

keys.post("/:id/rotate", async (c) => {
  const parsed = RotateKey.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const header = c.req.header("idempotency-key");
  if (header !== undefined && !IDEMPOTENCY_KEY.test(header)) {
    return apiError(
      c,
      new AppError("bad_request", "Idempotency-Key must be 1 to 255 visible ASCII characters.", "Idempotency-Key"),
    );
  }
  const rotated = await rotateProxyKey(
    c.env,
    c.get("tenantId"),
    c.req.param("id"),
    { role: c.get("role"), actor: c.get("actor") },
    { graceSeconds: parsed.data.grace_seconds, rotationId: header ?? `api:${newId()}` },
  );
  if (rotated instanceof AppError) return apiError(c, rotated);
  if (rotated.outcome === "replayed") {
    c.header(REPLAY_HEADER, "true");
    return c.json(keyView(rotated.record));
  }
  return c.json({ ...keyView(rotated.record), key: rotated.key });
});

keys.post("/:id/revoke", async (c) => {
  const revoked = await revokeProxyKey(c.env, c.get("tenantId"), c.req.param("id"), {
    role: c.get("role"),
    actor: c.get("actor"),
  });
  if (revoked instanceof AppError) return apiError(c, revoked);
  return c.json(keyView(revoked));
});
