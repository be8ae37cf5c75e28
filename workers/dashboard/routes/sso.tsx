// OpenID Connect single sign-on (an organisation's own identity provider). /sso asks which
// organisation; /sso/start sends the browser to the provider (authorization code + PKCE, state
// and nonce, see oidc.ts); /sso/callback takes the answer. The state also rides in a short
// cookie, so a callback URL made in someone else's browser cannot sign this browser in.
// People are matched by (organisation, issuer, subject); someone new joins just in time with
// the organisation's default role, but only with a verified email no Outlay account has yet:
// an organisation's provider never takes over an account made elsewhere.
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { dataKeyring, open } from "../../../shared/crypto.ts";
import { newId } from "../../../shared/ids.ts";
import { TENANT_ID } from "../../../shared/keys.ts";
import { tenantDb } from "../../store/index.ts";
import { SsoStartPage } from "../../../web/pages/auth/links.tsx";
import {
  auditAccount,
  beginOidc,
  discover,
  findUserByEmail,
  finishOidc,
  getUser,
  insertMembership,
  insertUser,
  normaliseEmail,
  type OidcConfig,
  type OidcMetadata,
  type Role,
  startSession,
} from "../../auth/index.ts";
import { keyHash } from "../../../shared/crypto.ts";
import type { WebEnv } from "../guards.ts";
import { ssoCallbackUrl } from "./org-settings.tsx";

export const sso = new Hono<WebEnv>();

const REQUEST_TTL_MS = 10 * 60 * 1000;
const COOKIE = "outlay_sso";

type SsoConfigRow = { issuer: string; client_id: string; client_secret: string; default_role: Role };

async function ssoSetup(
  c: Context<WebEnv>,
  tenantId: string,
): Promise<{ config: OidcConfig; metadata: OidcMetadata; role: Role } | string> {
  const row = await tenantDb(c.env.DB, tenantId).first<SsoConfigRow>(
    `SELECT s.issuer, s.client_id, s.client_secret, s.default_role FROM sso_configs s JOIN tenants t ON t.id = s.tenant_id
     WHERE s.tenant_id = ?1 AND t.closed_at IS NULL`,
  );
  if (!row) return "Single sign-on is not set up for this organisation.";
  const found = await discover(row.issuer, { allowLoopbackHttp: c.env.ALLOW_LOOPBACK_UPSTREAMS === "true" });
  if (!found.ok) return `The identity provider cannot be used: ${found.message}`;
  const clientSecret = await open(dataKeyring(c.env.DATA_KEYS), row.client_secret, `sso:${tenantId}`);
  return {
    config: { issuer: row.issuer, clientId: row.client_id, clientSecret },
    metadata: found.value,
    role: row.default_role,
  };
}

function stateHash(env: Env, state: string) {
  return keyHash(env.SESSION_SECRET, `outlay/sso-state/v1\0${state}`);
}

function refuse(c: Context<WebEnv>, error: string, status: 400 | 403 | 404 = 400, tenantId?: string) {
  c.status(status);
  return c.render(<SsoStartPage error={error} tenantId={tenantId} />, { title: "Single sign-on", narrow: true });
}

sso.get("/sso", (c) => c.render(<SsoStartPage />, { title: "Single sign-on", narrow: true }));
sso.get("/sso/start", async (c) => {
  const tenantId = (c.req.query("org") ?? "").trim().toLowerCase();
  if (!TENANT_ID.test(tenantId)) return refuse(c, "An organisation id is 12 letters and digits.", 400);
  const setup = await ssoSetup(c, tenantId);
  if (typeof setup === "string") return refuse(c, setup, 404, tenantId);
  const start = await beginOidc(setup.config, setup.metadata, ssoCallbackUrl(c));
  await tenantDb(c.env.DB, tenantId).run(
    "INSERT INTO sso_requests (tenant_id, state_hash, nonce, code_verifier, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    await stateHash(c.env, start.state),
    start.nonce,
    start.codeVerifier,
    Date.now() + REQUEST_TTL_MS,
  );
  const secure = new URL(c.req.url).protocol === "https:";
  const options = { httpOnly: true, sameSite: "Lax", path: "/sso", maxAge: REQUEST_TTL_MS / 1000, secure } as const;
  setCookie(c, COOKIE, `${tenantId}.${start.state}`, options);
  return c.redirect(start.url, 303);
});
sso.get("/sso/:org{[a-z2-7]{12}}", (c) => c.redirect(`/sso/start?org=${c.req.param("org")}`, 303));

sso.get("/sso/callback", async (c) => {
  const params = new URL(c.req.url).searchParams;
  const [tenantId = "", state = ""] = (getCookie(c, COOKIE) ?? "").split(".");
  deleteCookie(c, COOKIE, { path: "/sso" });
  if (!TENANT_ID.test(tenantId) || !state || params.get("state") !== state) {
    return refuse(c, "This sign-in was not started in this browser, or took too long. Start again.", 400);
  }
  const db = tenantDb(c.env.DB, tenantId);
  const hash = await stateHash(c.env, state);
  // Single use: the request row is deleted as it is read.
  const pending = await db.first<{ nonce: string; code_verifier: string; expires_at: number }>(
    "DELETE FROM sso_requests WHERE tenant_id = ?1 AND state_hash = ?2 RETURNING nonce, code_verifier, expires_at",
    hash,
  );
  if (!pending || pending.expires_at <= Date.now())
    return refuse(c, "This sign-in expired. Start again.", 400, tenantId);
  const setup = await ssoSetup(c, tenantId);
  if (typeof setup === "string") return refuse(c, setup, 404, tenantId);
  const result = await finishOidc(setup.config, setup.metadata, ssoCallbackUrl(c), params, {
    state,
    nonce: pending.nonce,
    codeVerifier: pending.code_verifier,
  });
  if (!result.ok) return refuse(c, `Single sign-on failed: ${result.message}`, 403, tenantId);
  const identity = result.value;
  const issuer = setup.config.issuer;
  const now = Date.now();
  const linked = await db.first<{ user_id: string }>(
    "SELECT user_id FROM sso_identities WHERE tenant_id = ?1 AND issuer = ?2 AND subject = ?3",
    issuer,
    identity.subject,
  );
  let userId = linked?.user_id ?? null;
  const source = c.get("source");
  if (!userId) {
    // Stored as sign-up stores it, so that Alice@x and alice@x are one person (and one account).
    const email = identity.emailVerified && identity.email ? normaliseEmail(identity.email) : null;
    if (!email) {
      return refuse(c, "Your identity provider did not share a verified email address.", 403, tenantId);
    }
    if (await findUserByEmail(c.env, email)) {
      return refuse(
        c,
        "An Outlay account with this email already exists. Sign in with its password and ask an admin for an invitation.",
        403,
        tenantId,
      );
    }
    userId = newId();
    try {
      await c.env.DB.batch([
        insertUser(c.env, { id: userId, email, name: identity.name ?? email, passwordHash: null }, now),
        insertMembership(c.env, tenantId, userId, setup.role, now),
        db.prepare(
          "INSERT INTO sso_identities (tenant_id, issuer, subject, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
          issuer,
          identity.subject,
          userId,
          now,
        ),
      ]);
    } catch (error) {
      // Two first sign-ins of one person at once: the other one made the account.
      if (error instanceof Error && /UNIQUE constraint failed/.test(error.message)) {
        return refuse(c, "This sign-in raced another one for the same person. Start again.", 400, tenantId);
      }
      throw error;
    }
    const actor = { kind: "user", id: userId } as const;
    await auditAccount(
      c.env,
      [tenantId],
      { type: "member.joined", actor, subject: userId, source, data: { role: setup.role, via: "sso" } },
      now,
    );
  }
  const user = await getUser(c.env, userId);
  const member = await db.first("SELECT 1 AS ok FROM memberships WHERE tenant_id = ?1 AND user_id = ?2", userId);
  if (!user || !member) return refuse(c, "You are no longer a member of this organisation.", 403, tenantId);
  return startSession(c, user, "/", { method: "sso", tenantId });
});
