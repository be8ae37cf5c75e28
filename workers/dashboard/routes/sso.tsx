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
import {
  findSsoConfig,
  findSsoUserId,
  insertSsoMember,
  insertSsoRequest,
  isMember,
  takeSsoRequest,
  tenantDb,
  findUserByEmail,
} from "../../store/index.ts";
import { SsoStartPage } from "../../../web/pages/auth/links.tsx";
import {
  auditAccount,
  beginOidc,
  discover,
  finishOidc,
  getUser,
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

async function ssoSetup(
  c: Context<WebEnv>,
  tenantId: string,
): Promise<{ config: OidcConfig; metadata: OidcMetadata; role: Role } | string> {
  const row = await findSsoConfig(tenantDb(c.env.DB, tenantId));
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
  await insertSsoRequest(tenantDb(c.env.DB, tenantId), {
    state_hash: await stateHash(c.env, start.state),
    nonce: start.nonce,
    code_verifier: start.codeVerifier,
    expires_at: Date.now() + REQUEST_TTL_MS,
  });
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
  const pending = await takeSsoRequest(db, hash);
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
  let userId = await findSsoUserId(db, issuer, identity.subject);
  const source = c.get("source");
  if (!userId) {
    // Stored as sign-up stores it, so that Alice@x and alice@x are one person (and one account).
    const email = identity.emailVerified && identity.email ? normaliseEmail(identity.email) : null;
    if (!email) {
      return refuse(c, "Your identity provider did not share a verified email address.", 403, tenantId);
    }
    if (await findUserByEmail(c.env.DB, email)) {
      return refuse(
        c,
        "An Outlay account with this email already exists. Sign in with its password and ask an admin for an invitation.",
        403,
        tenantId,
      );
    }
    userId = newId();
    const member = { userId, email, name: identity.name ?? email, role: setup.role, issuer, subject: identity.subject };
    if (!(await insertSsoMember(c.env.DB, tenantId, member, now))) {
      // Two first sign-ins of one person at once: the other one made the account.
      return refuse(c, "This sign-in raced another one for the same person. Start again.", 400, tenantId);
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
  const member = await isMember(db, userId);
  if (!user || !member) return refuse(c, "You are no longer a member of this organisation.", 403, tenantId);
  return startSession(c, user, "/", { method: "sso", tenantId });
});
