// TOTP MFA through the dashboard's routes (issue #4): enrolment, the second step of sign-in,
// replay protection, recovery codes, throttling and lockout, organisation-required MFA, audit
// events and who may change the requirement. The TOTP module itself is tested in totp.test.ts.
//
// Only Date is faked: the Worker runs in this isolate, so the routes read the test's clock, which
// stands still in the middle of a 30-second step until a test moves it (TOTP steps, throttle
// delays). Timers stay real, so queued audit events still arrive.
import { env } from "cloudflare:workers";
import { Secret } from "otpauth";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dataKeyring, open } from "../../shared/crypto.ts";
import { qrSvgDataUri } from "../../workers/auth/qr.ts";
import type { Role } from "../../workers/auth/roles.ts";
import { totpAt } from "../../workers/auth/totp.ts";
import { Browser, email, openLink, PASSWORD, signIn, signUp, type Page } from "./browser.ts";

const STEP_MS = 30_000;
const SHA1_6 = { algorithm: "SHA1", digits: 6 } as const;
const SESSION_COOKIE = "__Host-outlay_session";

// ---- the clock -------------------------------------------------------------------------------

let now = 0;

function setClock(ms: number) {
  now = ms;
  vi.setSystemTime(ms);
}

function advance(ms: number) {
  setClock(now + ms);
}

beforeEach(() => {
  const real = Date.now();
  vi.useFakeTimers({ toFake: ["Date"] });
  setClock(Math.floor(real / STEP_MS) * STEP_MS + STEP_MS / 2);
});

afterEach(() => {
  vi.useRealTimers();
});

// ---- people and their authenticator ---------------------------------------------------------

type Person = { b: Browser; email: string; userId: string; tenantId: string };
type Authenticator = { secret: string; key: Uint8Array; recovery: string[] };

function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing: ${what}`);
  return value;
}

let browsers = 0;

/** A browser with its own address, so that no two tests share the per-address throttle. */
function browser(): Browser {
  browsers += 1;
  return new Browser({ source: `198.18.${Math.floor(browsers / 250)}.${(browsers % 250) + 1}` });
}

type UserRow = {
  id: string;
  password_hash: string;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: number | null;
  mfa_enabled_at: number | null;
  locked_at: number | null;
};

async function userRow(address: string): Promise<UserRow> {
  const row = await env.DB.prepare("SELECT * FROM users WHERE email = ?").bind(address).first<UserRow>();
  return must(row, `user ${address}`);
}

/** Signs up a person with a new organisation, which they own; the browser is signed in. */
async function owner(): Promise<Person> {
  const b = browser();
  const { email: address } = await signUp(b);
  const user = await userRow(address);
  const m = await env.DB.prepare("SELECT tenant_id FROM memberships WHERE user_id = ?")
    .bind(user.id)
    .first<{ tenant_id: string }>();
  return { b, email: address, userId: user.id, tenantId: must(m, "membership").tenant_id };
}

/** The owner makes an invitation link for `role`; someone new accepts it in another browser. */
async function invite(by: Person, role: Role): Promise<Person & { joined: Page }> {
  await by.b.get("/org/members");
  const made = await by.b.post("/org/invitations", { role, email: "" });
  expect(made.status).toBe(200);
  const path = must(/\/invite\/[a-z2-7]{12}\.[a-z2-7]{32}/.exec(made.html), "invitation link")[0];
  const b = browser();
  const address = email(role);
  expect((await openLink(b, path)).status).toBe(200);
  const joined = await b.post("/invite", { name: `A ${role}`, email: address, password: PASSWORD });
  expect(joined.status).toBe(303);
  return { b, email: address, userId: (await userRow(address)).id, tenantId: by.tenantId, joined };
}

function setupSecret(html: string): string {
  return must(/<p class="secret">([A-Z2-7]{32})<\/p>/.exec(html)?.[1], "setup key");
}

function recoveryCodesIn(html: string): string[] {
  return [...html.matchAll(/<li>([0-9a-z]{5}-[0-9a-z]{5})<\/li>/g)].map((m) => must(m[1], "code"));
}

/** Enrols the signed-in person's TOTP with the code of the current step (now spent). */
async function enrol(b: Browser): Promise<Authenticator> {
  await b.get("/account/mfa");
  expect((await b.post("/account/mfa/start")).location).toBe("/account/mfa");
  const secret = setupSecret((await b.get("/account/mfa")).html);
  const key = Secret.fromBase32(secret).bytes;
  const confirmed = await b.post("/account/mfa/confirm", { code: totpAt(key, now, SHA1_6) });
  expect(confirmed.status).toBe(200);
  return { secret, key, recovery: recoveryCodesIn(confirmed.html) };
}

/** The authenticator's code `steps` steps from now. */
function code(m: Authenticator, steps = 0): string {
  return totpAt(m.key, now + steps * STEP_MS, SHA1_6);
}

/** A well-formed code that no step in the accepted window has. */
function wrongCode(m: Authenticator): string {
  const window = new Set([code(m, -1), code(m), code(m, 1)]);
  let n = 123456;
  while (window.has(String(n))) n += 1;
  return String(n);
}

/** The password step; the browser is then at /login/mfa with that session's CSRF token. */
async function passwordStep(b: Browser, address: string): Promise<void> {
  const res = await signIn(b, address);
  expect(res.status).toBe(303);
  expect(res.location).toBe("/login/mfa");
  expect((await b.get("/login/mfa")).status).toBe(200);
}

function secondStep(b: Browser, input: string): Promise<Page> {
  return b.post("/login/mfa", { code: input });
}

async function signedInWith(b: Browser, address: string, input: string): Promise<Page> {
  await passwordStep(b, address);
  return secondStep(b, input);
}

// ---- D1 --------------------------------------------------------------------------------------

async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return must(row, sql).n;
}

async function mfaRequired(tenantId: string): Promise<number> {
  return count("SELECT mfa_required AS n FROM tenants WHERE id = ?", tenantId);
}

/** Every D1 table that holds one of `needles` (case-insensitive), as "table: needle". */
async function tablesHolding(needles: string[]): Promise<string[]> {
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  const found: string[] = [];
  for (const { name } of tables) {
    const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    const text = JSON.stringify(results).toLowerCase();
    for (const needle of needles) if (text.includes(needle.toLowerCase())) found.push(`${name}: ${needle}`);
  }
  return found;
}

type AuditRow = { actor_kind: string; actor_id: string | null; subject: string | null; data: string };

/** The organisation's audit events of `type` once at least `atLeast` reached D1 (through the queue). */
async function auditEvents(tenantId: string, type: string, atLeast = 1): Promise<AuditRow[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { results } = await env.DB.prepare(
      "SELECT actor_kind, actor_id, subject, data FROM audit_events WHERE tenant_id = ? AND type = ? ORDER BY seq",
    )
      .bind(tenantId, type)
      .all<AuditRow>();
    if (results.length >= atLeast) return results;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`fewer than ${atLeast} ${type} events for ${tenantId}`);
}

async function expectAudit(
  tenantId: string,
  type: string,
  e: { actor: string; source: string; subject: string; data?: Record<string, unknown> },
  atLeast = 1,
) {
  const rows = await auditEvents(tenantId, type, atLeast);
  const row = must(rows[atLeast - 1], type);
  expect(row).toMatchObject({ actor_kind: "user", actor_id: e.actor, subject: e.subject });
  expect(JSON.parse(row.data)).toEqual({ ...e.data, source: e.source });
}

// ---- enrolment -------------------------------------------------------------------------------

describe("enrolment", () => {
  it("shows the otpauth URI and a QR code on a no-store page, keeps the seed sealed, and is on only after a first valid code", async () => {
    const p = await owner();
    const before = await p.b.get("/account/mfa");
    expect(before.html).not.toContain("otpauth://");
    expect((await p.b.post("/account/mfa/start")).location).toBe("/account/mfa");

    const page = await p.b.get("/account/mfa");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toContain("no-store");
    const secret = setupSecret(page.html);
    const key = Secret.fromBase32(secret).bytes;
    const uri = must(/otpauth:\/\/totp\/[^<"\s]+/.exec(page.html), "otpauth URI")[0].replaceAll("&amp;", "&");
    const params = new URLSearchParams(uri.slice(uri.indexOf("?") + 1));
    expect(decodeURIComponent(uri.slice(0, uri.indexOf("?")))).toBe(`otpauth://totp/Outlay:${p.email}`);
    expect(Object.fromEntries(params)).toEqual({
      issuer: "Outlay",
      secret,
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    // The QR code is an SVG image of that same URI; the secret is not in the SVG as text.
    const qr = must(/<img[^>]* src="(data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+)"/.exec(page.html)?.[1], "QR");
    const svg = atob(qr.slice(qr.indexOf(",") + 1));
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect(svg).not.toContain(secret);
    expect(svg.toLowerCase()).not.toContain(secret.toLowerCase());
    expect(qr).toBe(await qrSvgDataUri(uri));

    // Pending: sealed in totp_pending, MFA still off; the seed is in no D1 column in clear.
    const hex = [...key].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    const inClear = [secret, hex, btoa(String.fromCharCode(...key))];
    let user = await userRow(p.email);
    expect(user.mfa_enabled_at).toBeNull();
    expect(user.totp_secret).toBeNull();
    expect(await open(dataKeyring(env.DATA_KEYS), must(user.totp_pending, "pending"), `totp:${p.userId}`)).toBe(secret);
    expect(await tablesHolding(inClear)).toEqual([]);
    // Not on yet: signing in again asks for no code.
    const again = browser();
    expect(await signIn(again, p.email)).toMatchObject({ status: 303, location: "/" });

    // Wrong codes: refused, still off.
    const wrong = { code: totpAt(key, now, SHA1_6) === "000000" ? "000001" : "000000" };
    for (const bad of [wrong, { code: totpAt(key, now + 2 * STEP_MS, SHA1_6) }, { code: "12ab56" }]) {
      const refused = await p.b.post("/account/mfa/confirm", bad);
      expect(refused.status).toBe(400);
      expect(refused.html).toContain(secret);
      expect((await userRow(p.email)).mfa_enabled_at).toBeNull();
    }

    const confirmed = await p.b.post("/account/mfa/confirm", { code: totpAt(key, now, SHA1_6) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.headers.get("cache-control")).toContain("no-store");
    const codes = recoveryCodesIn(confirmed.html);
    expect(new Set(codes).size).toBe(10);
    expect(confirmed.html).not.toContain(secret);
    user = await userRow(p.email);
    expect(user.mfa_enabled_at).toBe(now);
    expect(user.totp_pending).toBeNull();
    const sealed = must(user.totp_secret, "totp_secret");
    expect(sealed.toLowerCase()).not.toContain(secret.toLowerCase());
    expect(await open(dataKeyring(env.DATA_KEYS), sealed, `totp:${p.userId}`)).toBe(secret);
    expect(await tablesHolding([...inClear, ...codes])).toEqual([]);

    // The codes were shown once: neither page shows them again.
    for (const path of ["/account/mfa", "/account"]) {
      const later = await p.b.get(path);
      expect(later.status).toBe(200);
      for (const c of codes) expect(later.html).not.toContain(c);
      expect(later.html).not.toContain(secret);
    }
    // Confirming again changes nothing and shows no new codes.
    const twice = await p.b.post("/account/mfa/confirm", { code: totpAt(key, now, SHA1_6) });
    expect(twice.location).toBe("/account/mfa");
    expect(await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", p.userId)).toBe(10);

    await expectAudit(p.tenantId, "mfa.enrolled", { actor: p.userId, subject: p.userId, source: p.b.source });
  });
});

// ---- signing in ------------------------------------------------------------------------------

describe("sign-in with MFA", () => {
  it("after the password the session can only give its code; the right code gives full access on a new token", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    advance(STEP_MS);
    const b = browser();
    const res = await signIn(b, p.email);
    expect(res).toMatchObject({ status: 303, location: "/login/mfa" });
    const mfaToken = must(b.sessionCookie(), "session cookie");

    for (const path of ["/", "/account", "/account/mfa", "/org/members", "/org/settings"]) {
      expect({ path, ...(await b.get(path)) }).toMatchObject({ path, status: 303, location: "/login/mfa" });
    }
    expect((await b.get("/login/mfa")).status).toBe(200);
    const before = await userRow(p.email);
    const posts: [string, Record<string, string>][] = [
      ["/account/password", { current: PASSWORD, password: "a different long passphrase 77" }],
      ["/account/mfa/remove", { password: PASSWORD, code: code(m) }],
      ["/account/mfa/start", {}],
      ["/account/recovery-codes", { password: PASSWORD }],
      ["/account/sessions/revoke-all", {}],
      ["/org/invitations", { role: "admin", email: "" }],
      ["/org/settings/mfa", { required: "on" }],
      ["/org/settings/tokens", { name: "sneaky", role: "admin" }],
    ];
    for (const [path, fields] of posts) {
      expect({ path, ...(await b.post(path, fields)) }).toMatchObject({ path, status: 303, location: "/login/mfa" });
    }
    // None of them did anything.
    expect(await userRow(p.email)).toEqual(before);
    expect(
      await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", p.userId),
    ).toBe(10);
    expect(await count("SELECT COUNT(*) AS n FROM invitations WHERE created_by = ?", p.userId)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ?", p.tenantId)).toBe(0);
    expect(await mfaRequired(p.tenantId)).toBe(0);
    expect((await p.b.get("/account")).status).toBe(200);

    // The second factor: 303 to the dashboard, a new token, and every page opens.
    expect((await b.get("/login/mfa")).status).toBe(200);
    expect(await secondStep(b, code(m))).toMatchObject({ status: 303, location: "/" });
    expect(b.sessionCookie()).not.toBe(mfaToken);
    for (const path of ["/account", "/org/members", "/org/settings"])
      expect({ path, status: (await b.get(path)).status }).toEqual({ path, status: 200 });
    const stale = browser();
    stale.cookies.set(SESSION_COOKIE, mfaToken);
    expect((await stale.get("/account")).location).toBe("/login?next=%2Faccount");
  });

  it("accepts the code of the previous and of the next step, and refuses codes two steps away", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    advance(5 * STEP_MS);
    const window = [-2, -1, 0, 1, 2].map((steps) => code(m, steps));
    expect(new Set(window).size).toBe(5);

    const b = browser();
    await passwordStep(b, p.email);
    expect((await secondStep(b, code(m, -2))).status).toBe(401);
    expect((await secondStep(b, code(m, 2))).status).toBe(401);
    expect(await secondStep(b, code(m, -1))).toMatchObject({ status: 303, location: "/" });

    expect(await signedInWith(browser(), p.email, code(m, 1))).toMatchObject({ status: 303, location: "/" });
  });

  it("accepts a code once: the same code again, or an older step's code after a newer one, is refused", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    // The enrolment spent this step's code.
    expect((await signedInWith(browser(), p.email, code(m))).status).toBe(401);

    advance(2 * STEP_MS);
    expect(await signedInWith(browser(), p.email, code(m))).toMatchObject({ status: 303, location: "/" });
    const b = browser();
    await passwordStep(b, p.email);
    expect((await secondStep(b, code(m))).status).toBe(401);
    // The previous step's code was never used and is within the window, but is older than the last one used.
    expect((await secondStep(b, code(m, -1))).status).toBe(401);
    expect((await b.get("/account")).location).toBe("/login/mfa");

    advance(STEP_MS);
    expect(await secondStep(b, code(m))).toMatchObject({ status: 303, location: "/" });
  });

  it("lets exactly one of two concurrent sign-ins with the same code through", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    advance(STEP_MS);
    const [first, second] = [browser(), browser()];
    await passwordStep(first, p.email);
    await passwordStep(second, p.email);

    const results = await Promise.all([secondStep(first, code(m)), secondStep(second, code(m))]);
    expect(results.map((r) => r.status).sort((x, y) => x - y)).toEqual([303, 401]);
    const [won, lost] = results[0]?.status === 303 ? [first, second] : [second, first];
    expect((await won.get("/account")).status).toBe(200);
    expect((await lost.get("/account")).location).toBe("/login/mfa");
  });
});

// ---- recovery codes --------------------------------------------------------------------------

describe("recovery codes", () => {
  it("are stored hashed, work once each, are audited when used, and are all voided by regeneration", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    const old = m.recovery;
    const { results: rows } = await env.DB.prepare("SELECT * FROM recovery_codes WHERE user_id = ?")
      .bind(p.userId)
      .all();
    expect(rows).toHaveLength(10);
    const stored = JSON.stringify(rows).toLowerCase();
    for (const c of old) {
      expect(stored).not.toContain(c);
      expect(stored).not.toContain(c.replace("-", ""));
    }

    const first = browser();
    expect(await signedInWith(first, p.email, must(old[0], "code"))).toMatchObject({ status: 303, location: "/" });
    expect((await first.get("/account")).html).toContain("9 of 10 recovery codes left");
    await expectAudit(p.tenantId, "mfa.recovery_code_used", {
      actor: p.userId,
      subject: p.userId,
      source: first.source,
    });

    const second = browser();
    await passwordStep(second, p.email);
    expect((await secondStep(second, must(old[0], "code"))).status).toBe(401);
    expect((await secondStep(second, must(old[0], "code").toUpperCase())).status).toBe(401);
    expect(await secondStep(second, must(old[1], "code"))).toMatchObject({ status: 303, location: "/" });

    // Regeneration needs the password, then replaces the whole set.
    await p.b.get("/account/mfa");
    const refused = await p.b.post("/account/recovery-codes", { password: "not the password at all" });
    expect(refused.status).toBe(400);
    expect(recoveryCodesIn(refused.html)).toEqual([]);
    expect(
      await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", p.userId),
    ).toBe(8);
    const made = await p.b.post("/account/recovery-codes", { password: PASSWORD });
    expect(made.status).toBe(200);
    expect(made.headers.get("cache-control")).toContain("no-store");
    const fresh = recoveryCodesIn(made.html);
    expect(new Set(fresh).size).toBe(10);
    for (const c of fresh) expect(old).not.toContain(c);
    expect(
      await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", p.userId),
    ).toBe(10);
    expect(await tablesHolding([...fresh, ...fresh.map((c) => c.replace("-", ""))])).toEqual([]);
    await expectAudit(p.tenantId, "mfa.recovery_codes_regenerated", {
      actor: p.userId,
      subject: p.userId,
      source: p.b.source,
    });

    // Three failures so far (two spent codes, one wrong password inside the session): each
    // further try waits for the delay the one before it earned (1 s, 2 s, 4 s).
    advance(60_000);
    const third = browser();
    await passwordStep(third, p.email);
    expect((await secondStep(third, must(old[2], "code"))).status).toBe(401);
    advance(2_000);
    expect((await secondStep(third, must(old[9], "code"))).status).toBe(401);
    advance(4_000);
    expect(await secondStep(third, must(fresh[0], "code"))).toMatchObject({ status: 303, location: "/" });
  });
});

// ---- throttling ------------------------------------------------------------------------------

describe("wrong codes and the sign-in throttle", () => {
  it("delays further tries (429, even with the right code), up to 15 minutes; no lockout, the session waits", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    advance(STEP_MS);
    const b = browser();
    await passwordStep(b, p.email);
    for (let i = 1; i <= 3; i++) expect((await secondStep(b, wrongCode(m))).status).toBe(401);

    const early = await secondStep(b, code(m));
    expect(early.status).toBe(429);
    expect(Number(early.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await b.get("/account")).location).toBe("/login/mfa");

    /** The try at once must wait; after the wait the throttle counts one more wrong code. */
    const wrongAfterTheWait = async () => {
      const wait = await secondStep(b, wrongCode(m));
      expect(wait.status).toBe(429);
      const seconds = Number(wait.headers.get("retry-after"));
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(15 * 60);
      advance(seconds * 1000);
      // The MFA-stage session lives 10 minutes: keep this one fresh by entering the password again.
      if ((await b.get("/login/mfa")).status !== 200) await passwordStep(b, p.email);
      return secondStep(b, wrongCode(m));
    };
    const waits: number[] = [];
    for (let failures = 4; failures <= 14; failures++) {
      const wrong = await wrongAfterTheWait();
      expect(wrong.status).toBe(401);
      const next = await secondStep(b, wrongCode(m));
      waits.push(Number(next.headers.get("retry-after")));
    }
    // 1 s, 2 s, 4 s … then never more than 15 minutes.
    expect(Math.max(...waits)).toBe(15 * 60);
    // After the longest wait the right code still gets in: nothing was locked.
    advance(15 * 60 * 1000);
    if ((await b.get("/login/mfa")).status !== 200) await passwordStep(b, p.email);
    const inside = await secondStep(b, code(m));
    expect(inside.status).toBe(303);
    expect((await b.get("/account")).status).toBe(200);
    expect((await userRow(p.email)).locked_at).toBeNull();
  });

  it("keeps counting wrong codes when the password is entered again", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    advance(STEP_MS);
    const b = browser();
    await passwordStep(b, p.email);
    for (let i = 1; i <= 3; i++) expect((await secondStep(b, wrongCode(m))).status).toBe(401);

    // The password step waits too, and passing it does not wipe the wrong codes.
    const waiting = await signIn(b, p.email);
    expect(waiting.status).toBe(429);
    advance(Number(waiting.headers.get("retry-after")) * 1000);
    await passwordStep(b, p.email);
    expect((await secondStep(b, wrongCode(m))).status).toBe(401);
    expect((await secondStep(b, wrongCode(m))).status).toBe(429);
  });
});

// ---- organisation-required MFA ---------------------------------------------------------------

/** An owner with MFA who turns the organisation's requirement on (or off). */
async function requireMfa(p: Person, required: boolean): Promise<void> {
  await p.b.get("/org/settings");
  const res = await p.b.post("/org/settings/mfa", required ? { required: "on" } : {});
  expect(res).toMatchObject({ status: 303, location: "/org/settings" });
  expect(await mfaRequired(p.tenantId)).toBe(required ? 1 : 0);
}

describe("organisation-required MFA", () => {
  it("sends a member without MFA to enrolment and lets them do nothing else until they have enrolled", async () => {
    const p = await owner();
    await enrol(p.b);
    await requireMfa(p, true);
    await expectAudit(p.tenantId, "org.mfa_requirement_changed", {
      actor: p.userId,
      subject: p.tenantId,
      source: p.b.source,
      data: { required: true, tokensRevoked: 0 },
    });
    expect((await p.b.get("/org/settings")).status).toBe(200);

    // An admin joins, and is sent to enrolment; so is their next password sign-in.
    const admin = await invite(p, "admin");
    expect(admin.joined.location).toBe("/account/mfa");
    await admin.b.get("/account/mfa");
    await admin.b.post("/logout");
    expect(await signIn(admin.b, admin.email)).toMatchObject({ status: 303, location: "/account/mfa" });

    for (const path of ["/", "/account", "/org/members", "/org/settings", "/login/mfa"]) {
      const page = await admin.b.get(path);
      expect({ path, location: page.location }).toEqual({
        path,
        location: path === "/login/mfa" ? "/login" : "/account/mfa",
      });
    }
    const page = await admin.b.get("/account/mfa");
    expect(page.status).toBe(200);
    expect(page.html).toContain("Your organisation requires two-factor authentication");
    const posts: [string, Record<string, string>][] = [
      ["/account/password", { current: PASSWORD, password: "a different long passphrase 77" }],
      ["/account/sessions/revoke-all", {}],
      ["/org/invitations", { role: "member", email: "" }],
      ["/org/settings/mfa", {}],
      ["/org/settings/tokens", { name: "sneaky", role: "member" }],
    ];
    const before = await userRow(admin.email);
    for (const [path, fields] of posts) {
      expect({ path, ...(await admin.b.post(path, fields)) }).toMatchObject({
        path,
        status: 303,
        location: "/account/mfa",
      });
    }
    expect(await userRow(admin.email)).toEqual(before);
    expect(await count("SELECT COUNT(*) AS n FROM invitations WHERE created_by = ?", admin.userId)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ?", p.tenantId)).toBe(0);
    expect(await mfaRequired(p.tenantId)).toBe(1);

    // Enrolled: full access, on the same sign-in.
    await enrol(admin.b);
    for (const path of ["/account", "/org/members", "/org/settings"]) {
      expect({ path, status: (await admin.b.get(path)).status }).toEqual({ path, status: 200 });
    }
    expect((await admin.b.post("/org/invitations", { role: "member", email: "" })).status).toBe(200);
  });

  it("restricts a member who is already signed in at their next request", async () => {
    const p = await owner();
    await enrol(p.b);
    const member = await invite(p, "member");
    expect(member.joined.location).toBe("/");
    expect((await member.b.get("/org/members")).status).toBe(200);

    await requireMfa(p, true);
    expect((await member.b.get("/org/members")).location).toBe("/account/mfa");
    expect((await member.b.get("/account")).location).toBe("/account/mfa");
    expect((await member.b.get("/account/mfa")).status).toBe(200);
    expect((await member.b.post("/account/sessions/revoke-all")).location).toBe("/account/mfa");
    expect(await count("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", member.userId)).toBe(1);
  });

  it("refuses turning MFA off while the organisation requires it; otherwise it needs the password and a fresh code", async () => {
    const p = await owner();
    const m = await enrol(p.b);
    await requireMfa(p, true);
    advance(STEP_MS);
    await p.b.get("/account/mfa");
    const refused = await p.b.post("/account/mfa/remove", { password: PASSWORD, code: code(m) });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain("requires two-factor authentication");
    expect((await userRow(p.email)).mfa_enabled_at).not.toBeNull();

    await requireMfa(p, false);
    await expectAudit(
      p.tenantId,
      "org.mfa_requirement_changed",
      { actor: p.userId, subject: p.tenantId, source: p.b.source, data: { required: false } },
      2,
    );
    await p.b.get("/account/mfa");
    const attempts = [
      { password: "not the password at all", code: code(m) },
      { password: PASSWORD, code: wrongCode(m) },
      // the enrolment's code (one step back now): already used
      { password: PASSWORD, code: code(m, -1) },
    ];
    for (const fields of attempts) {
      expect((await p.b.post("/account/mfa/remove", fields)).status).toBe(400);
      expect((await userRow(p.email)).mfa_enabled_at).not.toBeNull();
      expect(await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", p.userId)).toBe(10);
    }

    // Three failures: the sign-in throttle makes the next try wait a second.
    expect((await p.b.post("/account/mfa/remove", { password: PASSWORD, code: code(m) })).status).toBe(429);
    advance(1_000);
    const removed = await p.b.post("/account/mfa/remove", { password: PASSWORD, code: code(m) });
    expect(removed).toMatchObject({ status: 303, location: "/account?done=mfa-off" });
    expect(await userRow(p.email)).toMatchObject({
      mfa_enabled_at: null,
      totp_secret: null,
      totp_pending: null,
      totp_last_step: null,
    });
    expect(await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", p.userId)).toBe(0);
    await expectAudit(p.tenantId, "mfa.removed", { actor: p.userId, subject: p.userId, source: p.b.source });
    expect(await signIn(browser(), p.email)).toMatchObject({ status: 303, location: "/" });
  });

  it("may be changed by owners and admins only: a member and a viewer get 403", async () => {
    const p = await owner();
    await enrol(p.b);
    for (const role of ["member", "viewer"] as const) {
      const someone = await invite(p, role);
      await someone.b.get("/account");
      const res = await someone.b.post("/org/settings/mfa", { required: "on" });
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expect(res.html).toContain(`Your role (${role}) may not do this`);
      expect(await mfaRequired(p.tenantId)).toBe(0);
    }
    const admin = await invite(p, "admin");
    await admin.b.get("/account");
    expect(await admin.b.post("/org/settings/mfa", { required: "on" })).toMatchObject({
      status: 303,
      location: "/org/settings",
    });
    expect(await mfaRequired(p.tenantId)).toBe(1);
    await expectAudit(p.tenantId, "org.mfa_requirement_changed", {
      actor: admin.userId,
      subject: p.tenantId,
      source: admin.b.source,
      data: { required: true, tokensRevoked: 0 },
    });
  });
});
