// /org/settings: time zone and locale (config:write), MFA requirement and SSO (security:manage), admin tokens (tokens:manage),
// closing the organisation (org:own).
import { Hono, type Context } from "hono";
import { z } from "zod";
import { dataKeyring, seal } from "../../../shared/crypto.ts";
import {
  closeTenant,
  deleteSsoConfig,
  findSsoSummary,
  listTokensWithoutMfa,
  setMfaRequired,
  tenantDb,
  upsertSsoConfig,
  listAdminTokens,
  revokeAdminToken,
  revokeTokensWithoutMfa,
} from "../../store/index.ts";
import { OrgSettingsPage, type OrgSettingsView, type SettingsMessages } from "../../../web/pages/auth/org-settings.tsx";
import { ledgerFor } from "../../ledger/index.ts";
import { assignableRoles, auditInOrg, can, createAdminToken, discover, isRole } from "../../auth/index.ts";
import {
  formField,
  formValues,
  requireAccount,
  requireCsrf,
  requirePermission,
  signedInOrg,
  type WebEnv,
} from "../guards.ts";
import { AppError } from "../../../shared/errors.ts";
import { changeSettings, settingsProblems } from "../../services/index.ts";

/** A closed organisation is purged by the hourly job from 29 days on: gone within 30. */
export const CLOSED_RETENTION_MS = 29 * 24 * 60 * 60 * 1000;

export const orgSettings = new Hono<WebEnv>();
orgSettings.use("/org/settings", requireAccount, requirePermission("read"));
orgSettings.use("/org/settings/*", requireAccount, requireCsrf, requirePermission("read"));
orgSettings.post("/org/settings/region", requirePermission("config:write"));
orgSettings.post("/org/settings/mfa", requirePermission("security:manage"));
orgSettings.post("/org/settings/sso", requirePermission("security:manage"));
orgSettings.post("/org/settings/sso/*", requirePermission("security:manage"));
orgSettings.post("/org/settings/tokens", requirePermission("tokens:manage"));
orgSettings.post("/org/settings/tokens/*", requirePermission("tokens:manage"));
orgSettings.post("/org/settings/close", requirePermission("org:own"));

export function ssoCallbackUrl(c: Context): string {
  return `${new URL(c.req.url).origin}/sso/callback`;
}

async function view(c: Context<WebEnv>): Promise<OrgSettingsView> {
  const { a, org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [sso, tokens, settings, withoutMfa] = await Promise.all([
    findSsoSummary(db),
    listAdminTokens(db),
    ledgerFor(c.env, org.tenantId).getSettings(),
    listTokensWithoutMfa(db),
  ]);
  return {
    csrf: a.csrf,
    orgName: org.name,
    tenantId: org.tenantId,
    mfaRequired: org.mfaRequired,
    tokensWithoutMfa: withoutMfa.map((t) => t.name),
    canSecurity: can(org.role, "security:manage"),
    canTokens: can(org.role, "tokens:manage"),
    canClose: can(org.role, "org:own"),
    canConfig: can(org.role, "config:write"),
    timeZone: settings.timeZone,
    locale: settings.locale,
    assignable: assignableRoles(org.role),
    callbackUrl: ssoCallbackUrl(c),
    sso: sso ? { issuer: sso.issuer, clientId: sso.client_id, defaultRole: sso.default_role } : null,
    tokens,
  };
}

async function page(c: Context<WebEnv>, messages: SettingsMessages = {}) {
  if (messages.error || messages.region) c.status(400);
  if (messages.token) c.header("cache-control", "no-store");
  return c.render(<OrgSettingsPage view={await view(c)} {...messages} />, { title: "Organisation" });
}

orgSettings.get("/org/settings", (c) => page(c));

/** The region form's words for each field's problem. */
const REGION_ERRORS: Record<string, string> = {
  time_zone: "Enter an IANA time zone such as Europe/Berlin or UTC.",
  locale: "Enter a locale such as en-US, en-GB or de-DE.",
};

orgSettings.post("/org/settings/region", async (c) => {
  const { a, org } = signedInOrg(c);
  const values = await formValues(c);
  const timeZone = (values.time_zone ?? "").trim();
  const locale = (values.locale ?? "").trim();
  // Through the ledger: a new zone carries the current windows' spend over (settings.updated).
  const saved = await changeSettings(c.env, {
    tenantId: org.tenantId,
    change: { timeZone, locale },
    actor: { kind: "user", id: a.user.id },
  });
  if (saved instanceof AppError) {
    // Every field's problem beside it, in the form's own words.
    const errors: Record<string, string> = {};
    for (const p of settingsProblems({ timeZone, locale }))
      errors[p.param ?? "form"] = REGION_ERRORS[p.param ?? ""] ?? p.message;
    return page(c, { region: { errors, values } });
  }
  return page(c, { notice: "Time zone and locale saved." });
});

// Turning the requirement on also revokes the admin tokens made by people without MFA: a token is
// as strong as the sign-in of whoever made it, and from now on every person here signs in with
// two factors (docs/accounts.md). Tokens of people with MFA, and the operator's, keep working.
orgSettings.post("/org/settings/mfa", async (c) => {
  const { org } = signedInOrg(c);
  const required = (await formField(c, "required")) === "on";
  await setMfaRequired(c.env.DB, org.tenantId, required);
  const revoked =
    required && !org.mfaRequired ? await revokeTokensWithoutMfa(tenantDb(c.env.DB, org.tenantId), Date.now()) : [];
  await auditInOrg(c, {
    type: "org.mfa_requirement_changed",
    subject: org.tenantId,
    data: required ? { required, tokensRevoked: revoked.length } : { required },
  });
  for (const id of revoked) {
    await auditInOrg(c, { type: "token.revoked", subject: id, data: { reason: "mfa_required" } });
  }
  return c.redirect("/org/settings", 303);
});

const SsoForm = z.object({
  issuer: z.string().trim().url("Enter the issuer URL, e.g. https://your-tenant.okta.com").max(500),
  client_id: z.string().trim().min(1, "Enter the client id.").max(300),
  client_secret: z.string().min(1, "Enter the client secret.").max(1000),
  default_role: z.string(),
});

orgSettings.post("/org/settings/sso", async (c) => {
  const { org } = signedInOrg(c);
  const parsed = SsoForm.safeParse(await formValues(c));
  if (!parsed.success) return page(c, { error: parsed.error.issues[0]?.message ?? "Check the form." });
  const { issuer, client_id, client_secret, default_role } = parsed.data;
  if (!isRole(default_role) || default_role === "owner" || !assignableRoles(org.role).includes(default_role)) {
    return page(c, { error: "Choose the role of people who join through SSO." });
  }
  const found = await discover(issuer, { allowLoopbackHttp: c.env.ALLOW_LOOPBACK_UPSTREAMS === "true" });
  if (!found.ok) return page(c, { error: `Could not use this issuer: ${found.message}` });
  const secret = await seal(dataKeyring(c.env.DATA_KEYS), client_secret, `sso:${org.tenantId}`);
  await upsertSsoConfig(tenantDb(c.env.DB, org.tenantId), {
    issuer,
    client_id,
    client_secret: secret,
    default_role,
    updated_at: Date.now(),
  });
  await auditInOrg(c, {
    type: "org.sso_configured",
    subject: org.tenantId,
    data: { issuer, clientId: client_id, defaultRole: default_role },
  });
  return page(c, { notice: "Single sign-on is on." });
});

orgSettings.post("/org/settings/sso/remove", async (c) => {
  const { org } = signedInOrg(c);
  await deleteSsoConfig(tenantDb(c.env.DB, org.tenantId));
  await auditInOrg(c, { type: "org.sso_removed", subject: org.tenantId });
  return page(c, { notice: "Single sign-on is off." });
});

orgSettings.post("/org/settings/tokens", async (c) => {
  const { a, org } = signedInOrg(c);
  const name = (await formField(c, "name")).trim();
  const role = await formField(c, "role");
  if (name.length < 1 || name.length > 100) return page(c, { error: "Name the token (1 to 100 characters)." });
  if (!isRole(role) || role === "owner" || !assignableRoles(org.role).includes(role)) {
    return page(c, { error: "Choose a role for the token." });
  }
  const created = await createAdminToken(c.env, org.tenantId, { name, role, createdBy: `user:${a.user.id}` });
  await auditInOrg(c, { type: "token.created", subject: created.id, data: { name, role } });
  return page(c, { token: { name, value: created.token } });
});

orgSettings.post("/org/settings/tokens/:id/revoke", async (c) => {
  const { org } = signedInOrg(c);
  const id = c.req.param("id");
  if (!(await revokeAdminToken(tenantDb(c.env.DB, org.tenantId), id, Date.now())))
    return page(c, { error: "No such active token." });
  await auditInOrg(c, { type: "token.revoked", subject: id });
  return page(c, { notice: "Token revoked." });
});

orgSettings.post("/org/settings/close", async (c) => {
  const { a, org } = signedInOrg(c);
  if ((await formField(c, "confirm")).trim() !== org.name) {
    return page(c, { error: "Type the organisation's name exactly to close it." });
  }
  const now = Date.now();
  await closeTenant(c.env.DB, org.tenantId, now, now + CLOSED_RETENTION_MS);
  await ledgerFor(c.env, org.tenantId).close({ tenantId: org.tenantId, now, actor: { kind: "user", id: a.user.id } });
  return c.redirect("/account", 303);
});
