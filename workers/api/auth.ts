// Admin-token authentication for /api/v1: `Authorization: Bearer ola_<tenant>_<id>_<secret>`.
// Tokens are stored as HMAC-SHA-256(pepper, token) in D1 and compared in constant time. Every
// failure answers the same 401, whether the tenant, the token or the secret was wrong. Every
// request a token passes is an access event of its organisation, whatever the answer.
import { createMiddleware } from "hono/factory";
import type { AuditActor } from "../../shared/audit.ts";
import { keyHash, sameHash } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { parseKey } from "../../shared/keys.ts";
import { findAdminTokenForAuth, tenantDb, type TenantDb } from "../store/index.ts";
import { readBearer } from "../../shared/bearer.ts";
import { can, isRole, recordAccess, type Permission, type Role } from "../auth/index.ts";
import { apiError } from "./errors.ts";

export type ApiEnv = {
  Bindings: Env;
  Variables: { tenantId: string; db: TenantDb; actor: AuditActor; role: Role };
};

export const adminAuth = createMiddleware<ApiEnv>(async function adminAuth(c, next) {
  const token = readBearer(c.req.raw.headers);
  const parsed = parseKey(token, "ola");
  const denied = new AppError("invalid_api_key", "A valid admin token is required.");
  if (!token || !parsed) return apiError(c, denied);
  const db = tenantDb(c.env.DB, parsed.tenantId);
  const [row, hash] = await Promise.all([findAdminTokenForAuth(db, parsed.id), keyHash(c.env.KEY_PEPPER, token)]);
  if (
    !row ||
    row.revoked_at !== null ||
    row.closed_at !== null ||
    !sameHash(row.token_hash, hash) ||
    !isRole(row.role)
  ) {
    return apiError(c, denied);
  }
  c.set("tenantId", parsed.tenantId);
  c.set("db", db);
  c.set("actor", { kind: "admin", id: parsed.id });
  c.set("role", row.role);
  const at = Date.now();
  await next();
  recordAccess(c, { type: "access.api", tenantId: parsed.tenantId, actor: { kind: "admin", id: parsed.id }, at });
});

/** What a request needs: reading is open to every role; writing keys needs `keys:own` (and the
 * key route checks ownership for revocation); every other write needs `config:write`. */
function apiPermission(method: string, path: string): Permission {
  if (method === "GET" || method === "HEAD") return "read";
  if (/^\/api\/v1\/keys(\/|$)/.test(path)) return "keys:own";
  return "config:write";
}

export const rolePermission = createMiddleware<ApiEnv>(async function rolePermission(c, next) {
  const needed = apiPermission(c.req.method, c.req.path);
  if (!can(c.get("role"), needed)) {
    return apiError(c, new AppError("forbidden", `This token's role (${c.get("role")}) may not do this.`));
  }
  await next();
});
