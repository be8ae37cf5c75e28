// Dashboard sessions (issue #4), driven through the Worker like a browser (./browser.ts):
//
//   cookie ............ __Host-outlay_session (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain);
//                       outlay_session without Secure only on plain-http loopback
//   token ............. 256 bits, stored only as a hash
//   lifetime .......... 1 h idle, 12 h absolute, 10 min while waiting for the second factor
//   rotation .......... sign-in, MFA step-up, organisation switch; a role change signs out
//   revocation ........ sign-out, sign out everywhere, one session from the list (own only)
//   CSRF .............. every POST route: session token, Origin check, form content type
//   fail closed ....... malformed, unknown, revoked cookies; a person deleted
//   headers ........... CSP, framing, no-store
//
// Time is moved by ageing rows in D1, never by sleeping.
import { env } from "cloudflare:workers";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { createSession } from "../../workers/auth/sessions.ts";
import { web } from "../../workers/dashboard/index.ts";
import { purgeTenant } from "../../workers/auth/purge.ts";
import { totpAt } from "../../workers/auth/totp.ts";
import {
  Browser,
  email,
  existingAccount,
  inviteLink,
  openLink,
  PASSWORD,
  signIn,
  signUp,
  type Page,
} from "./browser.ts";
import { waitForAudit } from "./orgs.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const HOST_COOKIE = "__Host-outlay_session";
const NEW_PASSWORD = "a brand new long passphrase 5";

async function userIdOf(address: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM users WHERE email = ?").bind(address).first<{ id: string }>();
  if (!row) throw new Error(`no user ${address}`);
  return row.id;
}

async function tenantOf(userId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT tenant_id FROM memberships WHERE user_id = ? AND role = 'owner'")
    .bind(userId)
    .first<{ tenant_id: string }>();
  if (!row) throw new Error(`no organisation owned by ${userId}`);
  return row.tenant_id;
}

type SessionRow = { id: string; tenant_id: string | null; stage: string; created_at: number; expires_at: number };

async function sessionsOf(userId: string): Promise<SessionRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT id, tenant_id, stage, created_at, expires_at FROM sessions WHERE user_id = ? ORDER BY id",
  )
    .bind(userId)
    .all<SessionRow>();
  return results;
}

/** Moves a person's sessions into the past: their last activity, start and end by these amounts. */
async function age(userId: string, by: { lastSeen?: number; created?: number; expires?: number }) {
  await env.DB.prepare(
    "UPDATE sessions SET last_seen_at = last_seen_at - ?, created_at = created_at - ?, expires_at = expires_at - ? WHERE user_id = ?",
  )
    .bind(by.lastSeen ?? 0, by.created ?? 0, by.expires ?? 0, userId)
    .run();
}

function cookieOf(b: Browser): string {
  const value = b.sessionCookie();
  if (!value) throw new Error("the browser has no session cookie");
  return value;
}

/** A fresh browser presenting only this session cookie (a stolen or kept copy). */
function replay(token: string, base = "https://outlay.test"): Browser {
  const b = new Browser({ base });
  b.cookies.set(new URL(base).protocol === "https:" ? HOST_COOKIE : "outlay_session", token);
  return b;
}

function expectSignInRedirect(page: Page) {
  expect(page.status).toBe(303);
  expect(page.location).toMatch(/^\/login(\?|$)/);
  expect(page.html).not.toContain("Sign out everywhere");
}

async function expectRefused(token: string) {
  expectSignInRedirect(await replay(token).get("/account"));
}

async function expectAccepted(token: string) {
  const page = await replay(token).get("/account");
  expect(page.status).toBe(200);
  expect(page.html).toContain("Sign out everywhere");
}

/** Enrols TOTP for a signed-in person; returns the shared secret's bytes. */
async function enrolTotp(b: Browser): Promise<Uint8Array> {
  expect((await b.post("/account/mfa/start")).status).toBe(303);
  const setup = await b.get("/account/mfa");
  const secret = /<p class="secret">([A-Z2-7]+)<\/p>/.exec(setup.html)?.[1];
  if (!secret) throw new Error(`no TOTP secret on the page: ${setup.html.slice(0, 300)}`);
  const bytes = Secret.fromBase32(secret).bytes;
  const confirmed = await b.post("/account/mfa/confirm", { code: code(bytes, Date.now()) });
  expect(confirmed.status).toBe(200);
  expect(confirmed.html).toMatch(/recovery/i);
  return bytes;
}

function code(secret: Uint8Array, at: number): string {
  return totpAt(secret, at, { algorithm: "SHA1", digits: 6 });
}

/** Signs in a person with TOTP up to the second-factor step. */
async function signInToMfaStep(b: Browser, address: string) {
  const page = await signIn(b, address);
  expect(page.status).toBe(303);
  expect(page.location).toBe("/login/mfa");
}

function parseSetCookie(line: string) {
  const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
  const eq = pair.indexOf("=");
  const flags = new Map(
    attributes.map((a) => {
      const i = a.indexOf("=");
      return i < 0 ? [a.toLowerCase(), ""] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
    }),
  );
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), flags };
}

describe("the session cookie", () => {
  it.each([
    { base: "https://outlay.test", name: HOST_COOKIE, secure: true },
    // Plain http on a real host name is not the loopback exception: still Secure, still __Host-.
    { base: "http://outlay.test", name: HOST_COOKIE, secure: true },
    { base: "http://localhost:8787", name: "outlay_session", secure: false },
    { base: "http://127.0.0.1", name: "outlay_session", secure: false },
  ])("on $base is $name, secure: $secure", async ({ base, name, secure }) => {
    const b = new Browser({ base });
    await b.get("/signup");
    const page = await b.post("/signup", { name: "C", email: email(), organisation: "Cookie Org", password: PASSWORD });
    expect(page.status).toBe(303);
    const lines = page.headers.getSetCookie().filter((l) => /outlay_session=/.test(l));
    expect(lines).toHaveLength(1);
    const cookie = parseSetCookie(lines[0] ?? "");
    expect(cookie.name).toBe(name);
    expect(cookie.flags.has("httponly")).toBe(true);
    expect(cookie.flags.get("samesite")?.toLowerCase()).toBe("lax");
    expect(cookie.flags.get("path")).toBe("/");
    expect(cookie.flags.has("domain")).toBe(false);
    expect(cookie.flags.has("secure")).toBe(secure);
    // A session cookie: gone with the browser; the server ends it after 1 h idle / 12 h anyway.
    expect(cookie.flags.has("max-age") || cookie.flags.has("expires")).toBe(false);
    expect((await b.get("/account")).status).toBe(200);
  });

  it("on https is read only under the __Host- name (a cookie planted without the prefix is ignored)", async () => {
    const b = new Browser();
    await signUp(b);
    const planted = new Browser();
    planted.cookies.set("outlay_session", cookieOf(b));
    const page = await planted.get("/account");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/login?next=%2Faccount");
  });

  it("is cleared on sign-out with the attributes a browser needs to drop a __Host- cookie", async () => {
    const b = new Browser();
    await signUp(b);
    await b.get("/account");
    const out = await b.post("/logout");
    const line = out.headers.getSetCookie().find((l) => l.startsWith(`${HOST_COOKIE}=`));
    expect(line).toBeDefined();
    const cookie = parseSetCookie(line ?? "");
    expect(cookie.value).toBe("");
    expect(cookie.flags.get("max-age")).toBe("0");
    expect(cookie.flags.has("secure")).toBe(true);
    expect(cookie.flags.get("path")).toBe("/");
  });
});

describe("the session token", () => {
  it("has 256 bits (52 base32 characters), differs per session, and is stored only hashed", async () => {
    const a = new Browser();
    const b = new Browser();
    const { email: address } = await signUp(a);
    await signIn(b, address);
    const tokens = [cookieOf(a), cookieOf(b)];
    for (const token of tokens) expect(token).toMatch(/^[a-z2-7]{52}$/);
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(await sessionsOf(await userIdOf(address))).toHaveLength(2);
    const { results } = await env.DB.prepare("SELECT * FROM sessions").all();
    expect(results.length).toBeGreaterThanOrEqual(2);
    for (const row of results) {
      for (const value of Object.values(row)) {
        for (const token of tokens) expect(String(value).toLowerCase()).not.toContain(token);
      }
    }
  });
});

describe("session lifetime", () => {
  it("survives 59 minutes idle; 60 minutes idle signs it out", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const userId = await userIdOf(address);
    const token = cookieOf(b);
    await age(userId, { lastSeen: 59 * MINUTE });
    await expectAccepted(token);
    // That visit counted as activity; an hour of silence from now ends the session.
    await age(userId, { lastSeen: HOUR });
    await expectRefused(token);
    expect(await sessionsOf(userId)).toHaveLength(0);
  });

  it("ends 12 hours after it started, however active", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const userId = await userIdOf(address);
    const [row] = await sessionsOf(userId);
    expect((row?.expires_at ?? 0) - (row?.created_at ?? 0)).toBe(12 * HOUR);
    const token = cookieOf(b);
    await age(userId, { created: 12 * HOUR - MINUTE, expires: 12 * HOUR - MINUTE });
    await expectAccepted(token);
    await age(userId, { created: MINUTE, expires: MINUTE });
    await expectRefused(token);
  });

  it("waiting for the second factor lasts 10 minutes and reaches no page but /login/mfa", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    await enrolTotp(b);
    await b.post("/logout");
    await signInToMfaStep(b, address);
    const userId = await userIdOf(address);
    const [row] = await sessionsOf(userId);
    expect(row?.stage).toBe("mfa");
    expect((row?.expires_at ?? 0) - (row?.created_at ?? 0)).toBe(10 * MINUTE);
    const account = await b.get("/account");
    expect(account.status).toBe(303);
    expect(account.location).toBe("/login/mfa");
    const nineMinutes = { lastSeen: 9 * MINUTE, created: 9 * MINUTE, expires: 9 * MINUTE };
    await age(userId, nineMinutes);
    expect((await b.get("/login/mfa")).status).toBe(200);
    await age(userId, { lastSeen: MINUTE, created: MINUTE, expires: MINUTE });
    const expired = await b.get("/login/mfa");
    expect(expired.status).toBe(303);
    expect(expired.location).toBe("/login");
    expect(await sessionsOf(userId)).toHaveLength(0);
  });
});

describe("rotation: a new token, the old one refused", () => {
  it("on sign-in in a browser that already has a session", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const before = cookieOf(b);
    const page = await b.post("/login", { email: address, password: PASSWORD });
    expect(page.status).toBe(303);
    const after = cookieOf(b);
    expect(after).not.toBe(before);
    await expectRefused(before);
    await expectAccepted(after);
    expect(await sessionsOf(await userIdOf(address))).toHaveLength(1);
  });

  it("on MFA enrolment and on passing the second factor", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const beforeEnrol = cookieOf(b);
    const secret = await enrolTotp(b);
    const afterEnrol = cookieOf(b);
    expect(afterEnrol).not.toBe(beforeEnrol);
    await expectRefused(beforeEnrol);
    await expectAccepted(afterEnrol);

    await b.post("/logout");
    await signInToMfaStep(b, address);
    const waiting = cookieOf(b);
    await b.get("/login/mfa");
    // The enrolment used this step's code; the next step's is within the allowed drift.
    const passed = await b.post("/login/mfa", { code: code(secret, Date.now() + 30_000) });
    expect(passed.status).toBe(303);
    expect(passed.location).toBe("/");
    const full = cookieOf(b);
    expect(full).not.toBe(waiting);
    await expectAccepted(full);
    const stale = replay(waiting);
    const mfa = await stale.get("/login/mfa");
    expect(mfa.status).toBe(303);
    expect(mfa.location).toBe("/login");
    await expectRefused(waiting);
  });

  it("on organisation switch", async () => {
    const owner = new Browser();
    await signUp(owner);
    const link = await inviteLink(owner, "member");
    const p = new Browser();
    const { email: address } = await signUp(p);
    const userId = await userIdOf(address);
    const ownOrg = await tenantOf(userId);
    await openLink(p, link);
    expect((await p.post("/invite")).status).toBe(303);
    const inInvitingOrg = cookieOf(p);
    const [row] = await sessionsOf(userId);
    expect(row?.tenant_id).not.toBe(ownOrg);

    // Not a member of that organisation: refused, token unchanged.
    const stranger = new Browser();
    const { email: strangerEmail } = await signUp(stranger);
    const otherOrg = await tenantOf(await userIdOf(strangerEmail));
    await p.get("/account");
    expect((await p.post("/org/switch", { tenant_id: otherOrg })).status).toBe(403);
    expect(cookieOf(p)).toBe(inInvitingOrg);

    const switched = await p.post("/org/switch", { tenant_id: ownOrg });
    expect(switched.status).toBe(303);
    const after = cookieOf(p);
    expect(after).not.toBe(inInvitingOrg);
    await expectRefused(inInvitingOrg);
    await expectAccepted(after);
    expect((await sessionsOf(userId)).map((s) => s.tenant_id)).toEqual([ownOrg]);
  });

  it("on role change: the person is signed out of that organisation only", async () => {
    const owner = new Browser();
    await signUp(owner);
    const link = await inviteLink(owner, "member");
    const inOrg = new Browser();
    const { email: address } = await signUp(inOrg);
    await openLink(inOrg, link);
    expect((await inOrg.post("/invite")).status).toBe(303);
    // A second session of the same person in their own organisation.
    const inOwnOrg = new Browser();
    await signIn(inOwnOrg, address);
    const userId = await userIdOf(address);
    expect(new Set((await sessionsOf(userId)).map((s) => s.tenant_id)).size).toBe(2);
    const ownerToken = cookieOf(owner);

    await owner.get("/org/members");
    const changed = await owner.post(`/org/members/${userId}/role`, { role: "viewer" });
    expect(changed.status).toBe(200);
    expect(changed.html).toContain("is now a viewer");

    await expectRefused(cookieOf(inOrg));
    await expectAccepted(cookieOf(inOwnOrg));
    await expectAccepted(ownerToken);
  });
});

describe("signing out", () => {
  it("POST /logout revokes the session: its cookie replayed elsewhere is refused", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const token = cookieOf(b);
    const out = await b.post("/logout");
    expect(out.status).toBe(303);
    expect(out.location).toBe("/login");
    expect(b.sessionCookie()).toBeUndefined();
    await expectRefused(token);
    expect(await sessionsOf(await userIdOf(address))).toHaveLength(0);
  });

  it("GET /logout only shows the form: nothing is revoked", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const token = cookieOf(b);
    const page = await b.get("/logout");
    expect(page.status).toBe(200);
    expect(page.html).toContain('action="/logout"');
    expect(page.headers.getSetCookie()).toEqual([]);
    await expectAccepted(token);
    expect(await sessionsOf(await userIdOf(address))).toHaveLength(1);
  });

  it("sign out everywhere revokes every session of that person and no one else's", async () => {
    const a = new Browser();
    const b = new Browser();
    const { email: address } = await signUp(a);
    await signIn(b, address);
    const someoneElse = new Browser();
    await signUp(someoneElse);
    const tokens = [cookieOf(a), cookieOf(b)];
    await a.get("/account");
    const out = await a.post("/account/sessions/revoke-all");
    expect(out.status).toBe(303);
    expect(out.location).toBe("/login");
    for (const token of tokens) await expectRefused(token);
    expect(await sessionsOf(await userIdOf(address))).toHaveLength(0);
    await expectAccepted(cookieOf(someoneElse));
  });

  it("a password change signs out every other session of the person, rotates this one, and is audited", async () => {
    const a = new Browser();
    const { email: address } = await signUp(a);
    const userId = await userIdOf(address);
    const others = [new Browser(), new Browser()];
    for (const b of others) expect((await signIn(b, address)).status).toBe(303);
    const bystander = new Browser();
    await signUp(bystander);
    const before = cookieOf(a);
    await a.get("/account");
    const changed = await a.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
    expect(changed.status).toBe(303);
    expect(changed.location).toBe("/account?done=password");
    // This browser goes on under a new token; the old one is refused like the other sessions.
    expect(cookieOf(a)).not.toBe(before);
    await expectRefused(before);
    for (const b of others) await expectRefused(cookieOf(b));
    await expectAccepted(cookieOf(a));
    expect((await a.get("/account?done=password")).html).toContain("Your other sessions were signed out.");
    await expectAccepted(cookieOf(bystander));
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?")
      .bind(userId)
      .first<{ n: number }>();
    expect(left?.n).toBe(1);
    const event = await waitForAudit(await tenantOf(userId), "auth.password_changed", userId);
    expect(event).toMatchObject({ actor_kind: "user", actor_id: userId });
    // The new password is the one that signs in.
    expect((await signIn(new Browser(), address)).status).toBe(401);
    expect((await signIn(new Browser(), address, NEW_PASSWORD)).status).toBe(303);
  });

  it("one session from the list can be signed out; the others stay", async () => {
    const a = new Browser();
    const b = new Browser();
    const { email: address } = await signUp(a);
    await signIn(b, address);
    const page = await a.get("/account");
    const listed = [...page.html.matchAll(/action="\/account\/sessions\/([a-z2-7]+)\/revoke"/g)].map((m) => m[1]);
    expect(listed).toHaveLength(1);
    const out = await a.post(`/account/sessions/${listed[0]}/revoke`);
    expect(out.status).toBe(303);
    expect(out.location).toBe("/account?done=session");
    await expectRefused(cookieOf(b));
    await expectAccepted(cookieOf(a));
  });

  it("another person's session cannot be signed out by its id: 404, and nothing changes", async () => {
    // The victim owns one organisation; the attacker owns another and is also a member of the
    // victim's, so both "another organisation's" and "my organisation's" person are tried.
    const victim = new Browser();
    const { email: victimEmail } = await signUp(victim);
    const victimId = await userIdOf(victimEmail);
    const stranger = new Browser();
    await signUp(stranger);
    const colleague = new Browser();
    await signUp(colleague);
    const link = await inviteLink(victim, "admin");
    await openLink(colleague, link);
    expect((await colleague.post("/invite")).status).toBe(303);
    const before = await sessionsOf(victimId);
    expect(before).toHaveLength(1);
    for (const attacker of [stranger, colleague]) {
      await attacker.get("/account");
      for (const id of [before[0]?.id ?? "", "no-such-session", ""]) {
        const answer = await attacker.post(`/account/sessions/${id}/revoke`);
        expect({ id, status: answer.status }).toEqual({ id, status: 404 });
      }
      await expectAccepted(cookieOf(attacker));
    }
    await expectAccepted(cookieOf(victim));
    expect(await sessionsOf(victimId)).toEqual(before);
    const audits = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'session.revoked' AND subject = ?",
    )
      .bind(before[0]?.id)
      .first<{ n: number }>();
    expect(audits?.n).toBe(0);
  });
});

// ---- CSRF ------------------------------------------------------------------------------------

/** Every POST route the pages register (middleware-only wildcard entries left out). */
const POST_ROUTES = [
  ...new Set(web.routes.filter((r) => r.method === "POST" && !r.path.includes("*")).map((r) => r.path)),
];
/** Routes used before there is a session: only the Origin check stands before them. */
const BEFORE_SESSION = new Set(["/signup", "/login", "/reset"]);
const SESSION_ROUTES = POST_ROUTES.filter((p) => !BEFORE_SESSION.has(p));

type Owner = { b: Browser; email: string; userId: string; tenantId: string; orgName: string };

/** A person who owns a new organisation, signed in in `b`. Every CSRF test needs one of its own,
 * since the post done right changes it; the account and the sessions are made by the functions
 * sign-up and sign-in end in (existingAccount, createSession) rather than through the pages: these
 * tests are about the CSRF checks, and the two scrypt runs of a sign-up and a sign-in were most of
 * their time. Signing up and in through the pages are the subject of the tests above and of
 * sign-in.test.ts. */
async function newOwner(): Promise<Owner> {
  const account = await existingAccount({ org: `CSRF Org ${Math.random().toString(36).slice(2, 8)}` });
  const owner: Owner = { b: new Browser(), ...account };
  await signedIn(owner, owner.b);
  return owner;
}

/** A new session of the owner in this browser, in their organisation, as a completed sign-in makes. */
async function signedIn(o: Owner, b: Browser): Promise<void> {
  const token = await createSession(env, {
    userId: o.userId,
    tenantId: o.tenantId,
    stage: "full",
    source: b.source,
    agent: null,
  });
  b.cookies.set(HOST_COOKIE, token);
}

function pathFor(route: string, o: Owner): string {
  return route.replace(":id", "abcdefghijkl").replace(":token", `${o.tenantId}.${"a".repeat(32)}`);
}

/** Fields that make each route do its work, so a refusal is the only thing that stops it. */
function fieldsFor(route: string, o: Owner): Record<string, string> {
  const fields: Record<string, Record<string, string>> = {
    "/signup": { name: "N", email: email("csrf"), organisation: "Org", password: PASSWORD },
    "/login": { email: o.email, password: PASSWORD },
    "/org/switch": { tenant_id: o.tenantId },
    "/account/password": { current: PASSWORD, password: "another long passphrase 77" },
    "/org/invitations": { role: "member", email: "" },
    "/org/settings/mfa": { required: "on" },
    "/org/settings/tokens": { name: "csrf token", role: "viewer" },
    "/org/settings/close": { confirm: o.orgName },
    "/reset": { password: "another long passphrase 77" },
  };
  return fields[route] ?? {};
}

/** Everything a POST could have changed for this person and organisation. */
async function stateOf(o: Owner): Promise<string> {
  const q = (sql: string, ...params: unknown[]) =>
    env.DB.prepare(sql)
      .bind(...params)
      .all()
      .then((r) => r.results);
  return JSON.stringify(
    await Promise.all([
      q("SELECT * FROM users WHERE id = ?", o.userId),
      q("SELECT id, token_hash, tenant_id, stage, expires_at FROM sessions WHERE user_id = ? ORDER BY id", o.userId),
      q("SELECT * FROM tenants WHERE id = ?", o.tenantId),
      q("SELECT * FROM memberships WHERE tenant_id = ? ORDER BY user_id", o.tenantId),
      q("SELECT * FROM invitations WHERE tenant_id = ? ORDER BY id", o.tenantId),
      q("SELECT * FROM password_resets WHERE tenant_id = ? ORDER BY token_hash", o.tenantId),
      q("SELECT * FROM sso_configs WHERE tenant_id = ?", o.tenantId),
      q("SELECT * FROM admin_tokens WHERE tenant_id = ? ORDER BY id", o.tenantId),
      q("SELECT * FROM recovery_codes WHERE user_id = ? ORDER BY code_hash", o.userId),
      q("SELECT COUNT(*) AS n FROM users"),
      q("SELECT COUNT(*) AS n FROM tenants"),
      q("SELECT COUNT(*) AS n FROM sessions"),
      q("SELECT * FROM sign_in_failures ORDER BY scope, subject"),
    ]),
  );
}

/** A raw form post: exactly these headers (besides the cookie and address). */
function rawPost(b: Browser, path: string, body: string, headers: Record<string, string>): Promise<Page> {
  return b.request(path, { method: "POST", headers, body });
}

const FORM = "application/x-www-form-urlencoded";
/** The body of the 403 Hono's csrf() answers with. */
const HONO_403 = "Forbidden";

describe("CSRF", () => {
  it("the route list is the one the pages register", () => {
    expect(POST_ROUTES).toContain("/org/switch");
    expect(POST_ROUTES).toContain("/account/sessions/:id/revoke");
    expect(POST_ROUTES).toContain("/org/settings/close");
    expect(POST_ROUTES).toContain("/invite");
    expect(POST_ROUTES).toContain("/reset");
    expect(POST_ROUTES.length).toBeGreaterThanOrEqual(26);
  });

  it.each(SESSION_ROUTES)("POST %s needs this session's token, a same-origin Origin and a form", async (route) => {
    const o = await newOwner();
    const other = new Browser();
    await signedIn(o, other);
    await other.get("/account");
    const otherToken = other.csrf ?? "";
    await o.b.get("/account");
    const token = o.b.csrf ?? "";
    expect(token).not.toBe("");
    expect(otherToken).not.toBe(token);
    const path = pathFor(route, o);
    const fields = fieldsFor(route, o);
    const origin = "https://outlay.test";
    const form = (csrf?: string) => new URLSearchParams(csrf === undefined ? fields : { ...fields, _csrf: csrf });
    const before = await stateOf(o);

    const refused: [string, () => Promise<Page>][] = [
      ["no token", () => o.b.post(path, fields, { csrf: false })],
      ["a wrong token", () => o.b.post(path, { ...fields, _csrf: "x".repeat(token.length) })],
      ["another session's token", () => o.b.post(path, { ...fields, _csrf: otherToken })],
      ["a cross-site Origin", () => o.b.post(path, { ...fields, _csrf: token }, { origin: "https://evil.example" })],
      ["no Origin", () => rawPost(o.b, path, form(token).toString(), { "content-type": FORM })],
      [
        "Sec-Fetch-Site: cross-site without Origin",
        () => rawPost(o.b, path, form(token).toString(), { "content-type": FORM, "sec-fetch-site": "cross-site" }),
      ],
    ];
    for (const [why, send] of refused) {
      const page = await send();
      expect({ why, status: page.status }).toEqual({ why, status: 403 });
      expect(await stateOf(o)).toBe(before);
    }
    // The Origin refusals come from Hono's csrf(), before any route code runs.
    for (const [why, send] of refused.slice(3))
      expect({ why, html: (await send()).html }).toEqual({ why, html: HONO_403 });

    const json = await rawPost(o.b, path, JSON.stringify({ ...fields, _csrf: token }), {
      "content-type": "application/json",
      origin,
      "x-csrf-token": token,
    });
    expect([403, 415]).toContain(json.status);
    expect(await stateOf(o)).toBe(before);

    // The same post done right gets past every check (it may still fail for its own reasons).
    const done = await o.b.post(path, { ...fields, _csrf: token });
    expect(done.status).not.toBe(403);
  });

  it.each(POST_ROUTES)("POST %s without a session is refused from another origin or no origin", async (route) => {
    const o = await newOwner();
    await o.b.post("/logout");
    const b = new Browser();
    const path = pathFor(route, o);
    const body = new URLSearchParams(fieldsFor(route, o)).toString();
    const before = await stateOf(o);
    const crossSite: Record<string, string>[] = [
      { "content-type": FORM, origin: "https://evil.example" },
      { "content-type": FORM },
      { "content-type": FORM, origin: "null" },
      { "content-type": "text/plain", origin: "https://evil.example" },
      { "content-type": "multipart/form-data; boundary=x", "sec-fetch-site": "cross-site" },
    ];
    for (const headers of crossSite) {
      const page = await rawPost(b, path, body, headers);
      expect({ headers, status: page.status, html: page.html }).toEqual({ headers, status: 403, html: HONO_403 });
      expect(b.sessionCookie()).toBeUndefined();
      expect(await stateOf(o)).toBe(before);
    }
    const json = await rawPost(b, path, JSON.stringify(fieldsFor(route, o)), {
      "content-type": "application/json",
      origin: "https://outlay.test",
    });
    expect([403, 415]).toContain(json.status);
    expect(await stateOf(o)).toBe(before);
    // The same post from the same origin passes the Origin check (the route may refuse it itself).
    const sameOrigin = await rawPost(b, path, body, { "content-type": FORM, origin: "https://outlay.test" });
    expect(sameOrigin.html).not.toBe(HONO_403);
  });
});

// ---- fail closed -----------------------------------------------------------------------------

describe("a session that cannot be verified gets the sign-in page, never the page", () => {
  it.each([
    ["garbage", "not-a-session"],
    ["the right length, wrong alphabet", "!".repeat(52)],
    ["well-formed but unknown", "a".repeat(52)],
    ["too long", "a".repeat(53)],
    ["empty", ""],
  ])("a malformed cookie: %s", async (_, value) => {
    const b = new Browser();
    b.cookies.set(HOST_COOKIE, value);
    for (const path of ["/account", "/org/members", "/org/settings", "/"]) expectSignInRedirect(await b.get(path));
    const post = await b.post("/account/sessions/revoke-all", { _csrf: "x" });
    expect([401, 403]).toContain(post.status);
  });

  it("a cookie whose session row was deleted", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    expect((await b.get("/account")).status).toBe(200);
    await env.DB.prepare("DELETE FROM sessions WHERE user_id = ?")
      .bind(await userIdOf(address))
      .run();
    for (const path of ["/account", "/org/members", "/org/settings"]) expectSignInRedirect(await b.get(path));
  });

  it("a person deleted: the database keeps no session without its person, and a purged person's cookie is refused", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const userId = await userIdOf(address);
    const tenantId = await tenantOf(userId);
    // The user row cannot go while a session (or membership) points at it (D1 enforces foreign keys).
    await expect(env.DB.prepare("DELETE FROM users WHERE id = ?").bind(userId).run()).rejects.toThrow(/FOREIGN KEY/);
    await expectAccepted(cookieOf(b));
    // The one way a person is deleted: their last organisation is closed and purged.
    await env.DB.prepare("UPDATE tenants SET closed_at = ?, purge_at = ? WHERE id = ?")
      .bind(Date.now(), Date.now(), tenantId)
      .run();
    expect(await purgeTenant(env, tenantId)).toBe(true);
    expect(await env.DB.prepare("SELECT id FROM users WHERE id = ?").bind(userId).first()).toBeNull();
    expectSignInRedirect(await b.get("/account"));
  });
});

describe("a session that cannot be loaded", () => {
  it("answers 500 when the session store fails: never the page, and not 'signed out' either", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    expect((await b.get("/account")).status).toBe(200);
    const cookie = b.sessionCookie();
    // A real storage error: the table the session is read from is gone for the moment (this
    // file's D1 is its own; the table comes back in finally).
    await env.DB.prepare("ALTER TABLE sessions RENAME TO sessions_unavailable").run();
    try {
      for (const path of ["/account", "/org/members", "/"]) {
        const page = await b.get(path);
        expect({ path, status: page.status }).toEqual({ path, status: 500 });
        expect(page.html).toContain("Something went wrong");
        expect(page.html).not.toContain(address);
        expect(page.location).toBeNull();
      }
      const post = await b.post("/account/sessions/revoke-all");
      expect(post.status).toBe(500);
    } finally {
      await env.DB.prepare("ALTER TABLE sessions_unavailable RENAME TO sessions").run();
    }
    // Nothing was changed by the failure: the same cookie is the same session.
    expect(b.sessionCookie()).toBe(cookie);
    expect((await b.get("/account")).status).toBe(200);
  });
});

// ---- headers ---------------------------------------------------------------------------------

describe("security headers", () => {
  it.each(["/account", "/org/members", "/org/settings", "/login", "/signup"])("on %s", async (path) => {
    const b = new Browser();
    await signUp(b);
    if (path === "/login" || path === "/signup") await b.post("/logout");
    const page = await b.get(path);
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp.split(";").map((d) => {
        const [name = "", ...values] = d.trim().split(/\s+/);
        return [name, values];
      }),
    );
    const scripts = directives.get("script-src") ?? directives.get("default-src");
    expect(scripts).toBeDefined();
    expect(scripts).not.toContain("'unsafe-inline'");
    expect(scripts).not.toContain("'unsafe-eval'");
    expect(scripts).not.toContain("*");
    const frameAncestors = directives.get("frame-ancestors");
    const xfo = page.headers.get("x-frame-options")?.toUpperCase();
    expect(frameAncestors?.join(" ") === "'none'" || xfo === "DENY" || xfo === "SAMEORIGIN").toBe(true);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("cache-control")).toContain("no-store");
  });
});
