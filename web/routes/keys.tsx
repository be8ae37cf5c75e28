// /keys: list, create (members and up; the key shown once), revoke (a confirmation page, then
// the post). Keys are changed through the tenant's ledger exactly as the API changes them, with
// the signed-in person as the audit actor.
import { Hono, type Context } from "hono";
import { AppError } from "../../shared/errors.ts";
import { tenantDb } from "../../shared/tenant-db.ts";
import { windowRange } from "../../shared/windows.ts";
import { createProxyKey, proxyKeyProblem, revokeProxyKey, type KeyRow } from "../../workers/api/keys.ts";
import { actorRef } from "../../shared/audit.ts";
import { can } from "../../workers/auth/roles.ts";
import {
  formValues,
  requireAccount,
  requireCsrf,
  requirePermission,
  signedInOrg,
  type WebEnv,
} from "../../workers/auth/web-auth.ts";
import { orgFormat } from "../format.ts";
import { KeysPage, RevokeKeyPage, type CreatedKey, type KeysView } from "../pages/keys.tsx";

export const keyPages = new Hono<WebEnv>();
keyPages.use("/keys", requireAccount, requirePermission("read"));
keyPages.use("/keys/*", requireAccount, requireCsrf, requirePermission("read"));
keyPages.post("/keys", requirePermission("keys:own"));
keyPages.post("/keys/*", requirePermission("keys:own"));

type KeyListRow = KeyRow & {
  created_by: string | null;
  last_hour: number | null;
  spent: number | null;
};

async function keysView(c: Context<WebEnv>): Promise<KeysView> {
  const { a, org } = signedInOrg(c);
  const f = await orgFormat(c);
  const now = Date.now();
  const month = windowRange({ kind: "monthly" }, f.timeZone, now);
  // Last use and this month's spend come from the hourly rollups' total rows (dim_name = '').
  const rows = await tenantDb(c.env.DB, org.tenantId).all<KeyListRow>(
    `SELECT k.id, k.name, k.prefix, k.dimensions, k.created_at, k.expires_at, k.revoked_at, k.created_by,
       (SELECT MAX(hour) FROM usage_rollups_hourly r WHERE r.tenant_id = ?1 AND r.dim_name = '' AND r.key_id = k.id) AS last_hour,
       (SELECT SUM(cost_nano_usd) FROM usage_rollups_hourly r WHERE r.tenant_id = ?1 AND r.dim_name = '' AND r.key_id = k.id
          AND r.hour >= ?2 AND r.hour < ?3) AS spent
     FROM api_keys k WHERE k.tenant_id = ?1 ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id`,
    month.start,
    month.end,
  );
  const me = actorRef({ kind: "user", id: a.user.id });
  return {
    csrf: a.csrf,
    mayCreate: can(org.role, "keys:own"),
    month: new Intl.DateTimeFormat(f.locale, { month: "long", timeZone: f.timeZone }).format(now),
    keys: rows.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      dimensions: JSON.parse(r.dimensions) as Record<string, string>,
      createdAt: f.date(r.created_at),
      expiresAt: r.expires_at === null ? null : f.dateTime(r.expires_at),
      revoked: r.revoked_at !== null,
      expired: r.expires_at !== null && r.expires_at <= now,
      lastUsed: r.last_hour === null ? null : f.hour(r.last_hour),
      spentThisMonth: f.usd(BigInt(r.spent ?? 0)),
      mayRevoke: can(org.role, "keys:any") || (can(org.role, "keys:own") && r.created_by === me),
    })),
  };
}

type PageExtra = { created?: CreatedKey; errors?: Record<string, string>; values?: Record<string, string> };

async function page(
  c: Context<WebEnv>,
  extra: PageExtra = {},
  status: 200 | 400 | 403 | 404 = extra.errors ? 400 : 200,
) {
  c.status(status);
  if (extra.created) c.header("cache-control", "no-store");
  return c.render(<KeysPage view={await keysView(c)} {...extra} />, { title: "Keys" });
}

keyPages.get("/keys", (c) => page(c));

/** "team=search, project=x" → { team: "search", project: "x" }, or the first malformed part. */
export function parseDimensions(text: string): Record<string, string> | string {
  const dimensions: Record<string, string> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) return `Write each dimension as name=value ("${part.slice(0, 40)}" is not).`;
    dimensions[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return dimensions;
}

keyPages.post("/keys", async (c) => {
  const { a, org } = signedInOrg(c);
  const values = await formValues(c);
  const errors: Record<string, string> = {};
  const name = (values.name ?? "").trim();
  if (name.length < 1 || name.length > 100) errors.name = "Name the key (1 to 100 characters).";
  const dimensions = parseDimensions(values.dimensions ?? "");
  if (typeof dimensions === "string") errors.dimensions = dimensions;
  let expiresAt: number | null = null;
  if (values.expires) {
    expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(values.expires) ? Date.parse(`${values.expires}T00:00:00Z`) : Number.NaN;
    if (Number.isNaN(expiresAt)) errors.expires = "Pick a date.";
  }
  if (Object.keys(errors).length === 0 && typeof dimensions !== "string") {
    const problem = proxyKeyProblem({ name, dimensions, expiresAt });
    if (!problem) {
      const created = await createProxyKey(
        c.env,
        org.tenantId,
        { name, dimensions, expiresAt },
        { kind: "user", id: a.user.id },
      );
      return page(c, { created: { name, key: created.key } });
    }
    const field = problem.param?.startsWith("dimensions")
      ? "dimensions"
      : problem.param === "expires_at"
        ? "expires"
        : "form";
    errors[field] = problem.param === "expires_at" ? "Pick a day after today." : problem.message;
  }
  return page(c, { errors, values });
});

async function keyFor(c: Context<WebEnv>) {
  const { org } = signedInOrg(c);
  return tenantDb(c.env.DB, org.tenantId).first<{
    id: string;
    name: string;
    prefix: string;
    revoked_at: number | null;
  }>("SELECT id, name, prefix, revoked_at FROM api_keys WHERE tenant_id = ?1 AND id = ?2", c.req.param("id") ?? "");
}

keyPages.get("/keys/:id/revoke", async (c) => {
  const { a } = signedInOrg(c);
  const key = await keyFor(c);
  if (!key || key.revoked_at !== null) return c.redirect("/keys", 303);
  return c.render(<RevokeKeyPage csrf={a.csrf} id={key.id} name={key.name} prefix={key.prefix} />, {
    title: "Revoke key",
  });
});

keyPages.post("/keys/:id/revoke", async (c) => {
  const { a, org } = signedInOrg(c);
  const revoked = await revokeProxyKey(c.env, org.tenantId, c.req.param("id"), {
    role: org.role,
    actor: { kind: "user", id: a.user.id },
  });
  if (revoked instanceof AppError) {
    if (revoked.status === 403) {
      const form = `Your role (${org.role}) may not do this: members may revoke only the keys they created.`;
      return page(c, { errors: { form } }, 403);
    }
    return page(c, { errors: { form: revoked.message } }, 404);
  }
  return c.redirect("/keys", 303);
});
