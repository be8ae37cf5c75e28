// Operator routes, for bootstrapping a deployment and the self-trial: PUT /internal/v1/tenants/{id},
// POST /internal/v1/tenants/{id}/admin-tokens, PUT /internal/v1/tenants/{id}/members (a person with
// a password and a role: the first owner of a deployment, the trial's demo user).
// Authorised by the OPERATOR_TOKEN secret, compared as HMACs so the comparison is constant-time.
// Each request the token passes is an access event of the tenant it names (actor "operator").
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { keyHash, sameHash } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import { TENANT_ID } from "../../shared/keys.ts";
import {
  accountSubject,
  clearFailures,
  createAdminToken,
  hashPassword,
  normaliseEmail,
  passwordProblem,
  recordAccess,
  ROLES,
} from "../auth/index.ts";
import {
  ensureTenant,
  findUserByEmail,
  revokeAdminTokensNamed,
  tenantDb,
  tenantExists,
  upsertMember,
} from "../store/index.ts";
import { readBearer } from "../../shared/bearer.ts";
import { apiError, jsonBody } from "./errors.ts";
import { invalid } from "../../shared/errors.ts";

type OperatorEnv = { Bindings: Env };

const operatorAuth = createMiddleware<OperatorEnv>(async function operatorAuth(c, next) {
  const token = readBearer(c.req.raw.headers) ?? "";
  const expected = c.env.OPERATOR_TOKEN;
  const denied = new AppError("invalid_api_key", "A valid operator token is required.");
  if (!expected || expected.length < 32 || !token) return apiError(c, denied);
  const [a, b] = await Promise.all([keyHash(c.env.KEY_PEPPER, token), keyHash(c.env.KEY_PEPPER, expected)]);
  if (!sameHash(a, b)) return apiError(c, denied);
  const at = Date.now();
  await next();
  // An access event of the tenant the route names, once it exists (a refused id names none).
  const tenantId = c.req.param("id");
  if (tenantId && TENANT_ID.test(tenantId)) {
    c.executionCtx.waitUntil(
      tenantExists(c.env.DB, tenantId).then((exists) => {
        if (exists) recordAccess(c, { type: "access.operator", tenantId, actor: { kind: "operator" }, at });
      }),
    );
  }
});

const TenantBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
const MemberBody = z.strictObject({
  email: z.string().max(254),
  name: z.string().trim().min(1).max(100),
  password: z.string(),
  role: z.enum(ROLES),
});
const TokenBody = z.strictObject({ name: z.string().trim().min(1).max(100) });

export const operator = new Hono<OperatorEnv>();
operator.use("*", operatorAuth);

operator.put("/tenants/:id", async (c) => {
  const id = c.req.param("id");
  if (!TENANT_ID.test(id))
    return apiError(c, new AppError("bad_request", "A tenant id is 12 characters of a-z and 2-7.", "id"));
  const parsed = TenantBody.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const row = await ensureTenant(c.env.DB, id, parsed.data.name, Date.now());
  return c.json({ id: row?.id, name: row?.name, created_at: new Date(row?.created_at ?? 0).toISOString() });
});

operator.post("/tenants/:id/admin-tokens", async (c) => {
  const id = c.req.param("id");
  if (!TENANT_ID.test(id) || !(await tenantExists(c.env.DB, id)))
    return apiError(c, new AppError("not_found", "No such tenant."));
  const parsed = TokenBody.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  await revokeAdminTokensNamed(tenantDb(c.env.DB, id), parsed.data.name, Date.now());
  const minted = await createAdminToken(c.env, id, { name: parsed.data.name, role: "admin", createdBy: "operator" });
  return c.json({ id: minted.id, name: parsed.data.name, token: minted.token }, 201);
});

/** Creates the person (or sets their password and lifts a lockout) and their membership with this role. */
operator.put("/tenants/:id/members", async (c) => {
  const id = c.req.param("id");
  if (!TENANT_ID.test(id) || !(await tenantExists(c.env.DB, id)))
    return apiError(c, new AppError("not_found", "No such tenant."));
  const parsed = MemberBody.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const email = normaliseEmail(parsed.data.email);
  if (!email) return apiError(c, new AppError("bad_request", "email: not an email address.", "email"));
  const problem = passwordProblem(parsed.data.password, [email]);
  if (problem) return apiError(c, problem);
  const now = Date.now();
  const hash = await hashPassword(parsed.data.password, c.env.KEY_PEPPER);
  const member = { userId: newId(), email, name: parsed.data.name, passwordHash: hash, role: parsed.data.role };
  await upsertMember(c.env.DB, id, member, now);
  await clearFailures(c.env, await accountSubject(c.env, email));
  const user = await findUserByEmail(c.env.DB, email);
  return c.json({ user_id: user?.id, email, role: parsed.data.role });
});

// Every other /internal/v1 path, for every method (after the operator token check): the API's 404.
operator.all("*", (c) =>
  apiError(c, new AppError("unknown_route", `No operator route for ${c.req.method} ${c.req.path.slice(0, 200)}.`)),
);
