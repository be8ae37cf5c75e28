// Single sign-on through the dashboard routes (workers/dashboard/routes/sso.tsx, org-settings.tsx), end
// to end against the real OpenID Provider (test/oidc-server.ts, oidc-provider) started by
// test/global-setup.ts. ./oidc-driver.ts plays the person at the provider (login and consent);
// everything on Outlay's side goes through the Worker's own routes with ./browser.ts.
//
//   configuration .... discovery at save, the client secret sealed and never shown, audit, roles
//   flow ............. /sso/start (code + PKCE S256, state, nonce, short cookie) → provider →
//                      /sso/callback → session; just-in-time membership; no password; same person
//   refusals ......... login CSRF (no cookie), replay, tampered state, expiry, access_denied,
//                      no config, no takeover of a password account, removed members
//   forgery .......... a code issued for another PKCE verifier is refused by the token endpoint
//   MFA .............. an organisation that requires it sends the SSO person to enrolment
//   storage .......... no client secret, code, ID token, state, nonce or verifier left in D1
import { env } from "cloudflare:workers";
import { base64url } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Browser, email, openLink, PASSWORD, signIn, signUp, type Page } from "./browser.ts";
import { driveSignIn } from "./oidc-driver.ts";

const BASE = "http://outlay.test";
const CALLBACK = `${BASE}/sso/callback`;
const ISSUER = env.OIDC_TEST_ISSUER;
const CLIENT_ID = env.OIDC_TEST_CLIENT_ID;
const CLIENT_SECRET = env.OIDC_TEST_CLIENT_SECRET;

afterEach(() => {
  vi.unstubAllGlobals();
});

/** Each browser comes from an address of its own: sign-up and sign-in are throttled per address. */
function browser(): Browser {
  const suffix = Array.from(crypto.getRandomValues(new Uint16Array(3)), (n) => n.toString(16)).join(":");
  return new Browser({ base: BASE, source: `2001:db8::${suffix}` });
}

/** A login name at the provider nobody else uses; the provider's email is <login>@sso.example. */
function newLogin(label = "sso"): string {
  return `${label}-${base64url
    .encode(crypto.getRandomValues(new Uint8Array(6)))
    .toLowerCase()
    .replace(/[_-]/g, "x")}`;
}

type Org = { owner: Browser; ownerEmail: string; ownerId: string; tenantId: string };

/** A person who signs up with a password and owns a new organisation. */
async function newOrg(): Promise<Org> {
  const owner = browser();
  const { email: ownerEmail } = await signUp(owner);
  const row = await env.DB.prepare(
    "SELECT m.tenant_id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?",
  )
    .bind(ownerEmail)
    .first<{ tenant_id: string; user_id: string }>();
  if (!row) throw new Error("sign-up made no membership");
  return { owner, ownerEmail, ownerId: row.user_id, tenantId: row.tenant_id };
}

async function saveSso(b: Browser, fields: Partial<Record<string, string>> = {}): Promise<Page> {
  await b.get("/org/settings");
  return b.post("/org/settings/sso", {
    issuer: ISSUER,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    default_role: "member",
    ...fields,
  });
}

/** An organisation with SSO configured through the settings page. */
async function ssoOrg(defaultRole = "member"): Promise<Org> {
  const org = await newOrg();
  const saved = await saveSso(org.owner, { default_role: defaultRole });
  if (saved.status !== 200 || !saved.html.includes("Single sign-on is on."))
    throw new Error(`saving SSO: ${saved.status} ${saved.html.slice(0, 500)}`);
  return org;
}

/** GET /sso/start: the redirect to the provider, its parameters and the cookie it set. */
async function start(b: Browser, tenantId: string) {
  const page = await b.get(`/sso/start?org=${tenantId}`);
  if (page.status !== 303 || page.location === null) throw new Error(`sso start: ${page.status} ${page.html}`);
  const url = new URL(page.location);
  return { page, url, state: url.searchParams.get("state") ?? "", nonce: url.searchParams.get("nonce") ?? "" };
}

/** Start at Outlay, sign in at the provider; returns the callback URL (not yet opened). */
async function toCallback(b: Browser, tenantId: string, login: string, cancel = false) {
  const started = await start(b, tenantId);
  const callback = await driveSignIn(started.url.href, { login, callback: CALLBACK, cancel });
  return { ...started, callback };
}

/** A whole SSO sign-in in `b`; returns the callback's answer. */
async function ssoSignIn(b: Browser, tenantId: string, login: string): Promise<Page> {
  const { callback } = await toCallback(b, tenantId, login);
  return b.get(callback.href);
}

function expectNoSession(b: Browser, page: Page) {
  expect(page.location).toBeNull();
  expect(b.sessionCookie()).toBeUndefined();
  expect(page.headers.getSetCookie().some((line) => /outlay_session=[^;]/.test(line))).toBe(false);
}

async function expectSignedInAs(b: Browser, address: string) {
  const account = await b.get("/account");
  expect(account.status).toBe(200);
  expect(account.html).toContain(address);
}

async function userByEmail(address: string) {
  return env.DB.prepare("SELECT id, email, password_hash FROM users WHERE email = ? COLLATE NOCASE")
    .bind(address)
    .all<{ id: string; email: string; password_hash: string | null }>()
    .then((r) => r.results);
}

async function identitiesOf(tenantId: string) {
  return env.DB.prepare("SELECT issuer, subject, user_id FROM sso_identities WHERE tenant_id = ?")
    .bind(tenantId)
    .all<{ issuer: string; subject: string; user_id: string }>()
    .then((r) => r.results);
}

async function membershipsIn(tenantId: string) {
  return env.DB.prepare("SELECT user_id, role FROM memberships WHERE tenant_id = ? ORDER BY created_at")
    .bind(tenantId)
    .all<{ user_id: string; role: string }>()
    .then((r) => r.results);
}

async function pendingRequests(tenantId: string) {
  return env.DB.prepare("SELECT * FROM sso_requests WHERE tenant_id = ?")
    .bind(tenantId)
    .all<{ state_hash: string; nonce: string; code_verifier: string; expires_at: number }>()
    .then((r) => r.results);
}

type AuditRow = { type: string; actor_id: string | null; subject: string | null; data: Record<string, unknown> };

/** Account audit events reach D1 through the ledger and the queue: wait for `count` of a type
 * (those whose data has `where`'s values, if given). */
async function waitForAudit(
  tenantId: string,
  type: string,
  { count = 1, where = {} }: { count?: number; where?: Record<string, unknown> } = {},
  timeoutMs = 10_000,
): Promise<AuditRow[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { results: rows } = await env.DB.prepare(
      "SELECT type, actor_id, subject, data FROM audit_events WHERE tenant_id = ? AND type = ? ORDER BY seq",
    )
      .bind(tenantId, type)
      .all<Omit<AuditRow, "data"> & { data: string }>();
    const results = rows
      .map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }))
      .filter((r) => Object.entries(where).every(([k, v]) => r.data[k] === v));
    if (results.length >= count) return results;
    if (Date.now() > until) throw new Error(`expected ${count} ${type} events in ${tenantId}, found ${results.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sha256Url(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

describe("configuring SSO (/org/settings/sso)", () => {
  it("saves after discovery, seals the client secret, never shows it again and audits without it", async () => {
    const { owner, tenantId, ownerId } = await newOrg();
    const saved = await saveSso(owner, { default_role: "viewer" });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain("Single sign-on is on.");
    expect(saved.html).not.toContain(CLIENT_SECRET);

    const row = await env.DB.prepare("SELECT * FROM sso_configs WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ issuer: string; client_id: string; client_secret: string; default_role: string }>();
    expect(row).toMatchObject({ issuer: ISSUER, client_id: CLIENT_ID, default_role: "viewer" });
    expect(row?.client_secret).toBeTruthy();
    expect(row?.client_secret).not.toContain(CLIENT_SECRET);
    expect(row?.client_secret).not.toContain(btoa(CLIENT_SECRET));

    const settings = await owner.get("/org/settings");
    expect(settings.status).toBe(200);
    expect(settings.html).toContain(ISSUER);
    expect(settings.html).toContain(CALLBACK);
    expect(settings.html).not.toContain(CLIENT_SECRET);

    const [event] = await waitForAudit(tenantId, "org.sso_configured");
    expect(event?.actor_id).toBe(ownerId);
    expect(event?.data).toMatchObject({ issuer: ISSUER, clientId: CLIENT_ID, defaultRole: "viewer" });
    expect(JSON.stringify(event)).not.toContain(CLIENT_SECRET);
  });

  it("refuses an unreachable or mismatched issuer with a clear message and saves nothing", async () => {
    const { owner, tenantId } = await newOrg();
    const unreachable = await saveSso(owner, { issuer: "http://127.0.0.1:1" });
    expect(unreachable.status).toBe(400);
    expect(unreachable.html).toContain("Could not use this issuer: The identity provider could not be reached.");

    // The provider's document names the issuer without the trailing slash: not the one entered.
    const mismatched = await saveSso(owner, { issuer: `${ISSUER}/` });
    expect(mismatched.status).toBe(400);
    expect(mismatched.html).toContain("Could not use this issuer");
    expect(mismatched.html).toContain("not the configured issuer");

    expect(await env.DB.prepare("SELECT 1 FROM sso_configs WHERE tenant_id = ?").bind(tenantId).first()).toBeNull();
    expect((await owner.get(`/sso/start?org=${tenantId}`)).status).toBe(404);

    // A working configuration is not replaced by a failed save either.
    expect((await saveSso(owner)).status).toBe(200);
    expect((await saveSso(owner, { issuer: `${ISSUER}/`, client_id: "other-client" })).status).toBe(400);
    const kept = await env.DB.prepare("SELECT issuer, client_id FROM sso_configs WHERE tenant_id = ?")
      .bind(tenantId)
      .first();
    expect(kept).toEqual({ issuer: ISSUER, client_id: CLIENT_ID });
  });

  it("is refused to members and viewers (403), nothing saved", async () => {
    const { owner, tenantId } = await newOrg();
    for (const role of ["member", "viewer"]) {
      await owner.get("/org/members");
      const invited = await owner.post("/org/invitations", { role, email: "" });
      const token = /\/invite\/([^<\s"]+)/.exec(invited.html)?.[1];
      expect(token).toBeTruthy();
      const person = browser();
      await openLink(person, `/invite/${token}`);
      const joined = await person.post("/invite", { name: role, email: email(role), password: PASSWORD });
      expect(joined.status).toBe(303);
      const settings = await person.get("/org/settings");
      expect(settings.status).toBe(200);
      expect(settings.html).not.toContain('action="/org/settings/sso"');
      const denied = await saveSso(person);
      expect(denied.status).toBe(403);
      expect(denied.html).toContain(`Your role (${role}) may not do this`);
    }
    expect(await env.DB.prepare("SELECT 1 FROM sso_configs WHERE tenant_id = ?").bind(tenantId).first()).toBeNull();
  });
});

describe("signing in with SSO", () => {
  it("sends the browser to the provider with code + PKCE S256, state and nonce, and a short cookie", async () => {
    const { tenantId } = await ssoOrg();
    const b = browser();
    const { page, url, state, nonce } = await start(b, tenantId);
    expect(`${url.origin}${url.pathname}`).toBe(`${ISSUER}/auth`);
    const q = url.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe(CLIENT_ID);
    expect(q.get("redirect_uri")).toBe(CALLBACK);
    expect(q.get("scope")?.split(" ")).toContain("openid");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.has("client_secret")).toBe(false);

    const cookie = page.headers.getSetCookie().find((line) => line.startsWith("outlay_sso="));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/;\s*Max-Age=600\b/i);
    expect(cookie).toMatch(/;\s*Path=\/sso\b/i);
    expect(cookie).toMatch(/;\s*HttpOnly\b/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax\b/i);
    expect(b.cookies.get("outlay_sso")).toBe(`${tenantId}.${state}`);

    // Server-side: a hash of the state, the nonce and the verifier whose S256 is the challenge.
    const [row, ...more] = await pendingRequests(tenantId);
    expect(more).toEqual([]);
    expect(row?.state_hash).not.toContain(state);
    expect(row?.nonce).toBe(nonce);
    expect(await sha256Url(row?.code_verifier ?? "")).toBe(q.get("code_challenge"));
    expect(row?.expires_at).toBeGreaterThan(Date.now());
    expect(row?.expires_at).toBeLessThanOrEqual(Date.now() + 10 * 60 * 1000);

    // /sso/<org id>, the link the settings page shows, leads to the same start.
    expect((await browser().get(`/sso/${tenantId}`)).location).toBe(`/sso/start?org=${tenantId}`);
  });

  it("signs a new person in just in time with the default role, without a password", async () => {
    const { tenantId, ownerId } = await ssoOrg("viewer");
    const login = newLogin();
    const address = `${login}@sso.example`;
    const b = browser();
    const done = await ssoSignIn(b, tenantId, login);
    expect(done.status).toBe(303);
    expect(done.location).toBe("/");
    expect(b.sessionCookie()).toBeDefined();
    expect(b.cookies.has("outlay_sso")).toBe(false);
    await expectSignedInAs(b, address);

    const [user, ...others] = await userByEmail(address);
    expect(others).toEqual([]);
    expect(user?.password_hash).toBeNull();
    const memberships = await membershipsIn(tenantId);
    expect(memberships).toEqual([
      { user_id: ownerId, role: "owner" },
      { user_id: user?.id, role: "viewer" },
    ]);
    expect(await identitiesOf(tenantId)).toEqual([{ issuer: ISSUER, subject: login, user_id: user?.id }]);
    expect(await pendingRequests(tenantId)).toEqual([]);

    const [joined] = await waitForAudit(tenantId, "member.joined", { where: { via: "sso" } });
    expect(joined?.subject).toBe(user?.id);
    expect(joined?.actor_id).toBe(user?.id);
    expect(joined?.data).toMatchObject({ role: "viewer", source: b.source });
    const [signedIn] = await waitForAudit(tenantId, "auth.signed_in", { where: { method: "sso" } });
    expect(signedIn?.subject).toBe(user?.id);

    // No password works for them: the account has none.
    for (const password of [PASSWORD, "", "any password"]) {
      const other = browser();
      const attempt = await signIn(other, address, password);
      expect(attempt.status).not.toBe(303);
      expect(other.sessionCookie()).toBeUndefined();
    }

    // The same login again is the same person: no second user, identity or membership.
    const again = browser();
    const second = await ssoSignIn(again, tenantId, login);
    expect(second.status).toBe(303);
    await expectSignedInAs(again, address);
    expect((await userByEmail(address)).map((u) => u.id)).toEqual([user?.id]);
    expect(await identitiesOf(tenantId)).toHaveLength(1);
    expect(await membershipsIn(tenantId)).toHaveLength(2);
    await waitForAudit(tenantId, "auth.signed_in", { count: 2, where: { method: "sso" } });
    expect(await waitForAudit(tenantId, "member.joined", { where: { via: "sso" } })).toHaveLength(1);
  });

  it("sends an SSO person without TOTP to /account/mfa when the organisation requires MFA", async () => {
    const { owner, tenantId } = await ssoOrg();
    expect((await owner.post("/org/settings/mfa", { required: "on" })).status).toBe(303);
    const login = newLogin();
    const b = browser();
    const done = await ssoSignIn(b, tenantId, login);
    expect(done.status).toBe(303);
    expect(done.location).toBe("/account/mfa");
    expect((await b.get("/account")).location).toBe("/account/mfa");
    expect((await b.get("/org/members")).location).toBe("/account/mfa");
    const enrol = await b.get("/account/mfa");
    expect(enrol.status).toBe(200);
    const session = await env.DB.prepare(
      "SELECT s.stage FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = ?",
    )
      .bind(`${login}@sso.example`)
      .first<{ stage: string }>();
    expect(session?.stage).toBe("enrol");
  });
});

describe("refusals", () => {
  it("refuses a callback opened in a browser that did not start the sign-in (login CSRF)", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const { callback } = await toCallback(browser(), tenantId, login);
    const victim = browser();
    const page = await victim.get(callback.href);
    expect(page.status).toBe(400);
    expect(page.html).toContain("This sign-in was not started in this browser");
    expectNoSession(victim, page);
    expect(await userByEmail(`${login}@sso.example`)).toEqual([]);

    // Even a victim who has a sign-in of their own under way is not signed in as the attacker.
    const started = await start(victim, tenantId);
    const crossed = await victim.get(callback.href);
    expect(crossed.status).toBe(400);
    expectNoSession(victim, crossed);
    expect(started.state).not.toBe(callback.searchParams.get("state"));
    expect(await userByEmail(`${login}@sso.example`)).toEqual([]);
  });

  it("refuses a replayed callback: the pending request is single use", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const b = browser();
    const { callback } = await toCallback(b, tenantId, login);
    const cookie = b.cookies.get("outlay_sso") ?? "";
    expect(cookie).not.toBe("");
    expect((await b.get(callback.href)).status).toBe(303);

    // Replayed in the same browser (its cookie is gone) ...
    const sameBrowser = await b.get(callback.href);
    expect(sameBrowser.status).toBe(400);
    expect(sameBrowser.location).toBeNull();
    // ... and with the cookie put back: the request row was deleted by the first callback.
    const replayer = browser();
    replayer.cookies.set("outlay_sso", cookie);
    const replayed = await replayer.get(callback.href);
    expect(replayed.status).toBe(400);
    expect(replayed.html).toContain("This sign-in expired. Start again.");
    expectNoSession(replayer, replayed);
    expect(await identitiesOf(tenantId)).toHaveLength(1);
  });

  it("refuses a tampered state", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const b = browser();
    const { callback, state } = await toCallback(b, tenantId, login);
    const flipped = `${state.slice(0, -1)}${state.endsWith("A") ? "B" : "A"}`;
    const tampered = new URL(callback);
    tampered.searchParams.set("state", flipped);

    const page = await b.get(tampered.href);
    expect(page.status).toBe(400);
    expectNoSession(b, page);

    // The same tampered state in the cookie too: no pending request has that state's hash.
    const consistent = browser();
    consistent.cookies.set("outlay_sso", `${tenantId}.${flipped}`);
    const second = await consistent.get(tampered.href);
    expect(second.status).toBe(400);
    expect(second.html).toContain("This sign-in expired. Start again.");
    expectNoSession(consistent, second);
    expect(await userByEmail(`${login}@sso.example`)).toEqual([]);
    // The genuine request is still waiting (a tampered callback did not consume it).
    expect(await pendingRequests(tenantId)).toHaveLength(1);
  });

  it("refuses an expired request", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const b = browser();
    const { callback } = await toCallback(b, tenantId, login);
    await env.DB.prepare("UPDATE sso_requests SET expires_at = ? WHERE tenant_id = ?")
      .bind(Date.now() - 1, tenantId)
      .run();
    const page = await b.get(callback.href);
    expect(page.status).toBe(400);
    expect(page.html).toContain("This sign-in expired. Start again.");
    expectNoSession(b, page);
    expect(await userByEmail(`${login}@sso.example`)).toEqual([]);
    expect(await pendingRequests(tenantId)).toEqual([]);
  });

  it("refuses with a message when the person cancels at the provider (access_denied)", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const b = browser();
    const { callback } = await toCallback(b, tenantId, login, true);
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const page = await b.get(callback.href);
    expect(page.status).toBe(403);
    expect(page.html).toContain("Single sign-on failed: The identity provider refused the sign-in (access_denied).");
    expectNoSession(b, page);
    expect(await pendingRequests(tenantId)).toEqual([]);
  });

  it("answers 404 for an organisation without SSO (or no such organisation)", async () => {
    const { tenantId } = await newOrg();
    const b = browser();
    const page = await b.get(`/sso/start?org=${tenantId}`);
    expect(page.status).toBe(404);
    expect(page.html).toContain("Single sign-on is not set up for this organisation.");
    expect(b.cookies.has("outlay_sso")).toBe(false);
    expect(await pendingRequests(tenantId)).toEqual([]);
    expect((await b.get("/sso/start?org=aaaaaaaaaaaa")).status).toBe(404);
    expect((await b.get("/sso/start?org=not-an-org")).status).toBe(400);
  });

  it("never takes over an account that has an Outlay password", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin("taken");
    const address = `${login}@sso.example`;
    const holder = browser();
    await signUp(holder, { email: address });
    const before = await membershipsIn(tenantId);

    const b = browser();
    const page = await ssoSignIn(b, tenantId, login);
    expect(page.status).toBe(403);
    expect(page.html).toContain("An Outlay account with this email already exists.");
    expectNoSession(b, page);
    expect(await identitiesOf(tenantId)).toEqual([]);
    expect(await membershipsIn(tenantId)).toEqual(before);
    expect(await userByEmail(address)).toHaveLength(1);
  });

  it("never takes over an account whose email differs only in letter case", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin("Taken");
    const holder = browser();
    // Sign-up stores emails lower-cased; the provider says <Login>@sso.example.
    await signUp(holder, { email: `${login.toLowerCase()}@sso.example` });
    const before = await membershipsIn(tenantId);

    const b = browser();
    const page = await ssoSignIn(b, tenantId, login);
    expect(page.status).toBe(403);
    expect(page.html).toContain("An Outlay account with this email already exists.");
    expectNoSession(b, page);
    expect(await identitiesOf(tenantId)).toEqual([]);
    expect(await membershipsIn(tenantId)).toEqual(before);
    expect(await userByEmail(`${login}@sso.example`)).toHaveLength(1);

    // Someone new with a mixed-case address is stored as sign-up would store it.
    const fresh = newLogin("Fresh");
    const joined = browser();
    expect((await ssoSignIn(joined, tenantId, fresh)).status).toBe(303);
    expect((await userByEmail(`${fresh}@sso.example`)).map((u) => u.email)).toEqual([
      `${fresh.toLowerCase()}@sso.example`,
    ]);
  });

  it("refuses a person who joined through SSO once they are removed from the organisation", async () => {
    const { owner, tenantId } = await ssoOrg();
    const login = newLogin();
    const first = browser();
    expect((await ssoSignIn(first, tenantId, login)).status).toBe(303);
    const [user] = await userByEmail(`${login}@sso.example`);
    await owner.get("/org/members");
    const removed = await owner.post(`/org/members/${user?.id}/remove`);
    expect(removed.status).toBe(200);
    expect(removed.html).toContain("was removed");

    const b = browser();
    const page = await ssoSignIn(b, tenantId, login);
    expect(page.status).toBe(403);
    expect(page.html).toContain("You are no longer a member of this organisation.");
    expectNoSession(b, page);
    expect((await membershipsIn(tenantId)).map((m) => m.user_id)).not.toContain(user?.id);
    // The removal also ended the session they had.
    expect((await first.get("/account")).status).not.toBe(200);
  });
});

describe("an account made by an organisation's SSO stays in that organisation", () => {
  // B's identity provider, which B's admins control, can sign in as anyone it made; if that
  // person could join C, B could walk into C as them (docs/accounts.md).
  it("cannot accept another organisation's invitation; someone new with another email can", async () => {
    const b = await ssoOrg();
    const c = await newOrg();
    const login = newLogin();
    const person = browser();
    expect((await ssoSignIn(person, b.tenantId, login)).status).toBe(303);
    const [user] = await userByEmail(`${login}@sso.example`);
    await c.owner.get("/org/members");
    const made = await c.owner.post("/org/invitations", { role: "admin", email: "" });
    const path = /\/invite\/[a-z2-7]{12}\.[a-z2-7]{32}/.exec(made.html)?.[0] ?? "";
    expect((await openLink(person, path)).status).toBe(200);
    const refused = await person.post("/invite");
    expect(refused.status).toBe(400);
    expect(refused.html).toContain("made by another organisation&#39;s single sign-on");
    expect((await membershipsIn(c.tenantId)).map((m) => m.user_id)).not.toContain(user?.id);

    // The same invitation still works for someone else.
    const other = browser();
    await openLink(other, path);
    const joined = await other.post("/invite", { name: "New", email: email("c-admin"), password: PASSWORD });
    expect(joined.status).toBe(303);
  });
});

describe("forgery through the route", () => {
  it("refuses codes swapped between two sign-ins: each was issued for another PKCE verifier", async () => {
    const { tenantId } = await ssoOrg();
    const [loginA, loginB] = [newLogin("a"), newLogin("b")];
    const [a, b] = [browser(), browser()];
    const flowA = await toCallback(a, tenantId, loginA);
    const flowB = await toCallback(b, tenantId, loginB);
    const codeA = flowA.callback.searchParams.get("code") ?? "";
    const codeB = flowB.callback.searchParams.get("code") ?? "";
    expect(codeA).not.toBe("");
    expect(codeB).not.toBe("");

    const swappedA = new URL(flowA.callback);
    swappedA.searchParams.set("code", codeB);
    const swappedB = new URL(flowB.callback);
    swappedB.searchParams.set("code", codeA);
    for (const [browserOf, url] of [
      [a, swappedA],
      [b, swappedB],
    ] as const) {
      const page = await browserOf.get(url.href);
      expect(page.status).toBe(403);
      expect(page.html).toContain("Single sign-on failed: The identity provider refused the sign-in (invalid_grant).");
      expectNoSession(browserOf, page);
    }
    expect(await userByEmail(`${loginA}@sso.example`)).toEqual([]);
    expect(await userByEmail(`${loginB}@sso.example`)).toEqual([]);
    expect(await identitiesOf(tenantId)).toEqual([]);
  });
});

describe("no secrets stored", () => {
  it("leaves no client secret, code, ID token, state, nonce or verifier in any D1 table", async () => {
    const { tenantId } = await ssoOrg();
    const login = newLogin();
    const b = browser();
    const { callback, state, nonce } = await toCallback(b, tenantId, login);
    const [pending] = await pendingRequests(tenantId);
    const verifier = pending?.code_verifier ?? "";
    expect(verifier).not.toBe("");
    const code = callback.searchParams.get("code") ?? "";
    expect(code).not.toBe("");

    // The ID token only ever crosses the network: read it there, on its way to the Worker.
    const idTokens: string[] = [];
    const realFetch = globalThis.fetch;
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await realFetch(input, init);
      const url = input instanceof Request ? input.url : String(input);
      if (url === `${ISSUER}/token`) {
        const body = (await response.clone().json()) as { id_token?: string };
        if (body.id_token) idTokens.push(body.id_token);
      }
      return response;
    });
    const done = await b.get(callback.href);
    vi.unstubAllGlobals();
    expect(done.status).toBe(303);
    expect(idTokens).toHaveLength(1);
    const idToken = idTokens[0] ?? "";

    expect(await pendingRequests(tenantId)).toEqual([]);
    await waitForAudit(tenantId, "org.sso_configured");
    await waitForAudit(tenantId, "member.joined", { where: { via: "sso" } });
    await waitForAudit(tenantId, "auth.signed_in", { where: { method: "sso" } });

    const { results: tables } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    ).all<{ name: string }>();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["sso_configs", "sso_requests", "audit_events"]));
    let dump = "";
    for (const { name } of tables) {
      const { results } = await env.DB.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all();
      dump += `${name}\n${JSON.stringify(results)}\n`;
    }
    // The scan sees this sign-in's rows ...
    expect(dump).toContain(`${login}@sso.example`);
    expect(dump).toContain(tenantId);
    // ... and none of its secrets.
    const secrets = {
      clientSecret: CLIENT_SECRET,
      code,
      idToken,
      idTokenSignature: idToken.split(".")[2] ?? idToken,
      state,
      nonce,
      verifier,
    };
    const entries = Object.entries(secrets);
    expect(entries.filter(([, secret]) => secret.length < 20).map(([what]) => what)).toEqual([]);
    expect(entries.filter(([, secret]) => dump.includes(secret)).map(([what]) => what)).toEqual([]);
  });
});
