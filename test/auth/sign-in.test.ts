// Sign-in and sign-up (issue #4), driven through the Worker like a browser (./browser.ts):
//
//   uniform answers ..... a wrong password and an unknown email read the same (status, page,
//                         throttling); an unknown email still spends a scrypt
//   throttling .......... per account: 3 free failures, then 1 s, 2 s, 4 s ... up to 15 minutes
//                         (Retry-After); per address: 20 free failures, then the same delays
//   no lockout .......... however many failures, the right password works once the last
//                         failure's delay is over (nobody can lock anyone out); delays cleared by
//                         an admin or a password reset (single use, 1 hour) — only for a person
//                         who belongs to no other organisation
//   device cookies ...... a browser that completed a sign-in is counted on its own: others'
//                         guesses never delay it, and its sign-in does not reset them
//   audit ............... auth.sign_in_failed / auth.signed_in with data.source
//   next ................ never off-site
//   sign-up ............. validation beside the field; nothing created on failure
//
// Time is moved by ageing rows in D1 (sign_in_failures.last_at, password_resets.expires_at),
// never by sleeping.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Secret } from "otpauth";
import { accountSubject } from "../../workers/auth/throttle.ts";
import { totpAt } from "../../workers/auth/totp.ts";
import {
  Browser,
  email,
  existingAccount,
  inviteLink,
  joinAsNew,
  openLink,
  PASSWORD,
  signIn,
  signUp,
  type Page,
} from "./browser.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const NEW_PASSWORD = "a different long passphrase 9";
const MAX_WAIT_S = 15 * 60;

let addresses = 0;
/** A source address of its own for each browser, so one test's failures never reach another's. */
function address(): string {
  addresses += 1;
  return `198.51.${100 + Math.floor(addresses / 250)}.${addresses % 250}`;
}

async function userIdOf(who: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM users WHERE email = ?").bind(who).first<{ id: string }>();
  if (!row) throw new Error(`no user ${who}`);
  return row.id;
}

async function orgsOf(userId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT tenant_id FROM memberships WHERE user_id = ? ORDER BY created_at, tenant_id",
  )
    .bind(userId)
    .all<{ tenant_id: string }>();
  return results.map((r) => r.tenant_id);
}

/** A person who exists and is signed out (made without the sign-up page, whose scrypt run is not
 * what these tests measure; every sign-in attempt below still runs its own). */
async function existingPerson(): Promise<{ email: string; userId: string }> {
  const { email: who, userId } = await existingAccount();
  return { email: who, userId };
}

function attempt(b: Browser, who: string, password: string): Promise<Page> {
  return b.post("/login", { email: who, password });
}

type FailureRow = { failures: number; first_at: number; last_at: number };

async function accountFailures(who: string): Promise<FailureRow | null> {
  return env.DB.prepare(
    "SELECT failures, first_at, last_at FROM sign_in_failures WHERE scope = 'account' AND subject = ?",
  )
    .bind(await accountSubject(env, who))
    .first<FailureRow>();
}

/** Moves an account's (or an address's) failures into the past. */
async function ageFailures(scope: "account" | "address", subject: string, by: { last: number; first?: number }) {
  const key = scope === "account" ? await accountSubject(env, subject) : subject;
  await env.DB.prepare(
    "UPDATE sign_in_failures SET last_at = last_at - ?, first_at = first_at - ? WHERE scope = ? AND subject = ?",
  )
    .bind(by.last, by.first ?? 0, scope, key)
    .run();
}

/** `n` failures, each after the delay the one before it earned. */
async function failMany(b: Browser, who: string, n = 10): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await ageFailures("account", who, { last: 20 * MINUTE });
    await ageFailures("address", b.source, { last: 20 * MINUTE });
    const page = await attempt(b, who, "not the password at all");
    expect({ attempt: i, status: page.status }).toEqual({ attempt: i, status: 401 });
  }
}

/** The page with the echoed email taken out: what is left must not depend on the account. */
function withoutEmail(page: Page, who: string): string {
  return page.html.replaceAll(who, "EMAIL");
}

type AuditRow = { type: string; actor_id: string | null; subject: string | null; data: string };

async function auditRows(tenantId: string, type: string): Promise<AuditRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT type, actor_id, subject, data FROM audit_events WHERE tenant_id = ? AND type = ? ORDER BY seq",
  )
    .bind(tenantId, type)
    .all<AuditRow>();
  return results;
}

/** Audit events arrive through the ledger and the queue: poll until `count` are there. */
async function waitForAudit(tenantId: string, type: string, count = 1, timeoutMs = 5_000): Promise<AuditRow[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await auditRows(tenantId, type);
    if (rows.length >= count) return rows;
    if (Date.now() > until) throw new Error(`expected ${count} ${type} in ${tenantId}, found ${rows.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function eventsFrom(source: string): Promise<AuditRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT type, actor_id, subject, data FROM audit_events WHERE json_extract(data, '$.source') = ?",
  )
    .bind(source)
    .all<AuditRow>();
  return results;
}

async function counts() {
  const row = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM tenants) AS tenants,
     (SELECT COUNT(*) FROM memberships) AS memberships, (SELECT COUNT(*) FROM sessions) AS sessions`,
  ).first<Record<string, number>>();
  return row;
}

describe("answers that do not tell whether an account exists", () => {
  it("a wrong password and an unknown email get the same status and the same page", async () => {
    const { email: known } = await existingPerson();
    const unknown = email("nobody");
    const wrong = await attempt(new Browser({ source: address() }), known, "not the password at all");
    const missing = await attempt(new Browser({ source: address() }), unknown, "not the password at all");
    expect(wrong.status).toBe(401);
    expect(missing.status).toBe(401);
    expect(wrong.html).toContain(known);
    expect(withoutEmail(wrong, known)).toBe(withoutEmail(missing, unknown));
    expect(wrong.headers.getSetCookie()).toEqual([]);
    expect(missing.headers.getSetCookie()).toEqual([]);
  });

  it("an unknown email still runs the password hash (a decoy), like a wrong password", async () => {
    // Timing is measured here, not asserted tightly: only a loose lower bound that a scrypt run
    // (about 150 ms at today's parameters) clears and a lookup without one (a few ms) would not.
    // No upper bound and no ratio: those would make the test depend on the machine.
    const { email: known } = await existingPerson();
    const elapsed = async (who: string) => {
      const b = new Browser({ source: address() });
      const started = performance.now();
      const page = await attempt(b, who, "not the password at all");
      expect(page.status).toBe(401);
      return performance.now() - started;
    };
    expect(await elapsed(known)).toBeGreaterThanOrEqual(50);
    expect(await elapsed(email("nobody"))).toBeGreaterThanOrEqual(50);
  });
});

describe("throttling per account", () => {
  /** Three free failures, then 1 s, 2 s, 4 s: what each step answered (page without the email). */
  async function throttleSteps(who: string, b: Browser) {
    const steps: { status: number; retryAfter: string | null; page: string }[] = [];
    const record = (page: Page) =>
      steps.push({ status: page.status, retryAfter: page.headers.get("retry-after"), page: withoutEmail(page, who) });
    for (let i = 0; i < 3; i++) record(await attempt(b, who, "not the password at all"));
    for (const delayMs of [1000, 2000, 4000]) {
      record(await attempt(b, who, "not the password at all"));
      // Half a second short of the delay: still waiting.
      await ageFailures("account", who, { last: delayMs - 500 });
      record(await attempt(b, who, "not the password at all"));
      await ageFailures("account", who, { last: 500 });
      record(await attempt(b, who, "not the password at all"));
    }
    return steps;
  }

  it("3 free failures, then delays of 1 s, 2 s, 4 s; the same for an unknown email", async () => {
    const { email: known } = await existingPerson();
    const unknown = email("nobody");
    const knownSteps = await throttleSteps(known, new Browser({ source: address() }));
    const unknownSteps = await throttleSteps(unknown, new Browser({ source: address() }));
    expect(knownSteps.map((s) => [s.status, s.retryAfter])).toEqual([
      [401, null],
      [401, null],
      [401, null],
      [429, "1"],
      [429, "1"],
      [401, null],
      [429, "2"],
      [429, "1"],
      [401, null],
      [429, "4"],
      [429, "1"],
      [401, null],
    ]);
    expect(knownSteps[3]?.page).toMatch(/Wait 1 seconds/);
    expect(unknownSteps).toEqual(knownSteps);
    expect((await accountFailures(unknown))?.failures).toBe(6);
  });

  it("while waiting, the right password is refused with 429 and not even checked", async () => {
    const { email: known } = await existingPerson();
    const b = new Browser({ source: address() });
    for (let i = 0; i < 3; i++) expect((await attempt(b, known, "not the password at all")).status).toBe(401);
    const before = await accountFailures(known);
    const waiting = await attempt(b, known, PASSWORD);
    expect(waiting.status).toBe(429);
    expect(waiting.headers.get("retry-after")).toBe("1");
    expect(b.sessionCookie()).toBeUndefined();
    // Neither a success (which forgets the failures) nor a failure (which counts one) was recorded.
    expect(await accountFailures(known)).toEqual(before);
    await ageFailures("account", known, { last: 1000 });
    const after = await attempt(b, known, PASSWORD);
    expect(after.status).toBe(303);
    expect(b.sessionCookie()).toBeDefined();
    expect(await accountFailures(known)).toBeNull();
  });
});

describe("no lockout: delays only", () => {
  it("however many failures, the wait is at most 15 minutes, and then the right password works; an unknown email reads the same", async () => {
    const { email: known } = await existingPerson();
    const unknown = email("nobody");
    const b = new Browser({ source: address() });
    const other = new Browser({ source: address() });
    await failMany(b, known, 30);
    await failMany(other, unknown, 30);
    for (const [who, browser] of [
      [known, b],
      [unknown, other],
    ] as const) {
      const right = await attempt(browser, who, PASSWORD);
      expect(right.status).toBe(429);
      // The wait runs from the last failure, a few seconds ago.
      expect(Number(right.headers.get("retry-after"))).toBeGreaterThan(MAX_WAIT_S - 60);
      expect(Number(right.headers.get("retry-after"))).toBeLessThanOrEqual(MAX_WAIT_S);
      expect(right.html).toMatch(/Wait \d+ seconds/);
    }
    const known429 = await attempt(b, known, PASSWORD);
    const unknown429 = await attempt(other, unknown, PASSWORD);
    const seconds = (html: string) => html.replace(/Wait \d+ seconds/, "Wait N seconds");
    expect(seconds(withoutEmail(unknown429, unknown))).toBe(seconds(withoutEmail(known429, known)));
    // A minute short of the wait: still waiting; then the right password gets in.
    // (this browser's address failed as often: its delay is over at the same time)
    await ageFailures("account", known, { last: 14 * MINUTE });
    await ageFailures("address", b.source, { last: 14 * MINUTE });
    expect((await attempt(b, known, PASSWORD)).status).toBe(429);
    await ageFailures("account", known, { last: MINUTE });
    await ageFailures("address", b.source, { last: MINUTE });
    expect((await attempt(b, known, PASSWORD)).status).toBe(303);
    expect(await accountFailures(known)).toBeNull();
    const userRow = await env.DB.prepare("SELECT locked_at FROM users WHERE email = ?").bind(known).first();
    expect(userRow).toEqual({ locked_at: null });
  });

  it("an attacker gets at most 4 guesses an hour once the delays are at their longest", async () => {
    const unknown = email("target");
    const b = new Browser({ source: address() });
    await failMany(b, unknown, 15);
    // An hour of trying every minute, from as many addresses as wanted: 4 more guesses counted.
    for (let minute = 1; minute <= 60; minute++) {
      await ageFailures("account", unknown, { last: MINUTE });
      await attempt(new Browser({ source: address() }), unknown, "not the password at all");
    }
    expect((await accountFailures(unknown))?.failures).toBe(15 + 4);
  });

  it("failures are forgotten 24 hours after the last one, not the first", async () => {
    const { email: known } = await existingPerson();
    const b = new Browser({ source: address() });
    await failMany(b, known, 5);
    // The first failure is two days old, the last 23 hours: still counted.
    await ageFailures("account", known, { last: DAY - 60 * MINUTE, first: 2 * DAY });
    expect((await attempt(b, known, "not the password at all")).status).toBe(401);
    expect((await accountFailures(known))?.failures).toBe(6);
    await ageFailures("account", known, { last: DAY });
    expect((await attempt(b, known, "not the password at all")).status).toBe(401);
    expect((await accountFailures(known))?.failures).toBe(1);
  });

  it("an admin of the person's only organisation clears the delays; an outsider cannot", async () => {
    const owner = new Browser({ source: address() });
    await signUp(owner);
    const victim = new Browser({ source: address() });
    const { email: who } = await joinAsNew(victim, await inviteLink(owner, "member"));
    const victimId = await userIdOf(who);
    await victim.get("/logout");
    await victim.post("/logout");
    // Nothing to clear yet: no button.
    expect((await owner.get("/org/members")).html).not.toContain(`/org/members/${victimId}/unlock`);
    await failMany(victim, who, 12);
    expect((await attempt(victim, who, PASSWORD)).status).toBe(429);

    // Someone who is not an admin there cannot.
    const outsider = new Browser({ source: address() });
    await signUp(outsider);
    await outsider.get("/org/members");
    await outsider.post(`/org/members/${victimId}/unlock`);
    expect((await attempt(victim, who, PASSWORD)).status).toBe(429);

    const members = await owner.get("/org/members");
    expect(members.html).toContain(`/org/members/${victimId}/unlock`);
    expect(members.html).toContain("sign-in delayed");
    const unlocked = await owner.post(`/org/members/${victimId}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.html).toContain(`${who} can sign in again without waiting`);
    expect((await attempt(victim, who, PASSWORD)).status).toBe(303);
  });

  it("a password reset clears them; the link works once and for an hour", async () => {
    const owner = new Browser({ source: address() });
    await signUp(owner);
    const victim = new Browser({ source: address() });
    const { email: who } = await joinAsNew(victim, await inviteLink(owner, "member"));
    const victimId = await userIdOf(who);
    const elsewhere = new Browser({ source: address() });
    expect((await signIn(elsewhere, who)).status).toBe(303);
    await victim.get("/logout");
    await victim.post("/logout");
    await failMany(victim, who, 12);

    const resetLink = async () => {
      await owner.get("/org/members");
      const page = await owner.post(`/org/members/${victimId}/reset-link`);
      const url = /<p class="secret">(https:\/\/[^<]+\/reset\/[^<]+)<\/p>/.exec(page.html)?.[1];
      if (!url) throw new Error(`reset link: ${page.status} ${page.html.slice(0, 300)}`);
      return new URL(url).pathname;
    };

    // Expired: an hour after it was made it opens nothing and changes nothing.
    const stale = await resetLink();
    await env.DB.prepare("UPDATE password_resets SET expires_at = expires_at - ? WHERE user_id = ?")
      .bind(59 * MINUTE, victimId)
      .run();
    expect((await openLink(victim, stale)).status).toBe(200);
    await env.DB.prepare("UPDATE password_resets SET expires_at = expires_at - ? WHERE user_id = ?")
      .bind(MINUTE, victimId)
      .run();
    expect((await victim.get("/reset")).status).toBe(404);
    expect((await victim.post("/reset", { password: NEW_PASSWORD })).status).toBe(404);
    expect((await openLink(victim, stale)).status).toBe(404);
    expect((await attempt(victim, who, NEW_PASSWORD)).status).toBe(429);

    const link = await resetLink();
    expect((await openLink(victim, link)).status).toBe(200);
    const set = await victim.post("/reset", { password: NEW_PASSWORD });
    expect(set.status).toBe(303);
    expect(set.location).toBe("/login?reset=1");
    // Every session of the person ended with the reset.
    expectSignInRedirectFor(await elsewhere.get("/account"));

    expect((await attempt(new Browser({ source: address() }), who, PASSWORD)).status).toBe(401);
    const back = await attempt(victim, who, NEW_PASSWORD);
    expect(back.status).toBe(303);

    // Single use.
    const signedOut = new Browser({ source: address() });
    expect((await openLink(signedOut, link)).status).toBe(404);
    expect((await signedOut.post("/reset", { password: "yet another long passphrase 3" })).status).toBe(404);
    expect((await attempt(signedOut, who, NEW_PASSWORD)).status).toBe(303);
  });
});

function expectSignInRedirectFor(page: Page) {
  expect(page.status).toBe(303);
  expect(page.location).toMatch(/^\/login/);
}

describe("throttling per address", () => {
  it("20 failures from one address across emails delay that address, not another", async () => {
    const { email: known } = await existingPerson();
    const busy = address();
    const b = new Browser({ source: busy });
    for (let i = 0; i < 20; i++) {
      const page = await attempt(b, email(`spray${i}`), "not the password at all");
      expect({ i, status: page.status }).toEqual({ i, status: 401 });
    }
    // Even the right password of an account never tried from here waits.
    const waiting = await attempt(b, known, PASSWORD);
    expect(waiting.status).toBe(429);
    expect(waiting.headers.get("retry-after")).toBe("1");
    expect(b.sessionCookie()).toBeUndefined();

    const other = new Browser({ source: address() });
    expect((await attempt(other, email("fresh"), "not the password at all")).status).toBe(401);
    expect((await attempt(other, known, PASSWORD)).status).toBe(303);

    // A shared address gets delays only, never a lockout.
    await ageFailures("address", busy, { last: 20 * MINUTE });
    expect((await attempt(b, known, PASSWORD)).status).toBe(303);
  });
});

describe("audit", () => {
  it("failures and a sign-in are audited in each of the person's organisations", async () => {
    const owner = new Browser({ source: address() });
    await signUp(owner);
    const person = new Browser({ source: address() });
    const { email: who } = await signUp(person);
    const link = await inviteLink(owner, "member");
    await openLink(person, link);
    expect((await person.post("/invite")).status).toBe(303);
    const userId = await userIdOf(who);
    const orgs = await orgsOf(userId);
    expect(orgs).toHaveLength(2);
    await person.post("/logout");

    const source = address();
    const b = new Browser({ source });
    await failMany(b, who, 10);
    for (const tenantId of orgs) {
      const failed = await waitForAudit(tenantId, "auth.sign_in_failed", 10);
      expect(failed).toHaveLength(10);
      for (const row of failed) {
        expect(row.actor_id).toBe(userId);
        expect(row.subject).toBe(userId);
        expect(JSON.parse(row.data)).toMatchObject({ source });
      }
      expect(await auditRows(tenantId, "auth.locked")).toEqual([]);
    }

    await ageFailures("account", who, { last: 20 * MINUTE });
    expect((await attempt(b, who, PASSWORD)).status).toBe(303);
    const [signedIn] = await waitForAudit(orgs[0] ?? "", "auth.signed_in", 2);
    expect(signedIn?.actor_id).toBe(userId);
    const signIns = (await auditRows(orgs[0] ?? "", "auth.signed_in")).map((r) => JSON.parse(r.data));
    expect(signIns).toContainEqual(expect.objectContaining({ source, method: "password" }));
  });

  it("a failure on an unknown email writes nothing anywhere", async () => {
    const { email: known, userId } = await existingPerson();
    const [tenantId = ""] = await orgsOf(userId);
    const source = address();
    const b = new Browser({ source });
    expect((await attempt(b, email("nobody"), "not the password at all")).status).toBe(401);
    // A failure on a real account from the same address, after it: once that one has arrived,
    // the first would have too.
    expect((await attempt(b, known, "not the password at all")).status).toBe(401);
    await waitForAudit(tenantId, "auth.sign_in_failed");
    await new Promise((r) => setTimeout(r, 300));
    const events = await eventsFrom(source);
    expect(events.map((e) => e.type)).toEqual(["auth.sign_in_failed"]);
    expect(events[0]?.subject).toBe(userId);
  });
});

describe("the next parameter", () => {
  it.each([
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "evil.example",
  ])("%s falls back to /", async (next) => {
    const { email: who } = await existingPerson();
    const b = new Browser({ source: address() });
    await b.get(`/login?next=${encodeURIComponent(next)}`);
    const page = await b.post("/login", { email: who, password: PASSWORD, next });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
  });

  it("a path on this site is kept", async () => {
    const { email: who } = await existingPerson();
    const b = new Browser({ source: address() });
    const page = await b.post("/login", { email: who, password: PASSWORD, next: "/org/members" });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/org/members");
  });
});

describe("sign-up validation", () => {
  const valid = () => ({ name: "New Person", email: email("new"), organisation: "New Org", password: PASSWORD });

  it.each([
    { why: "a short password", field: "password", change: { password: "short pw" }, message: /12/ },
    { why: "a common password", field: "password", change: { password: "password1234" }, message: /common/i },
    { why: "a bad email", field: "email", change: { email: "not-an-email" }, message: /email address/ },
    { why: "an empty organisation", field: "organisation", change: { organisation: "  " }, message: /organisation/ },
    { why: "an empty name", field: "name", change: { name: "" }, message: /name/ },
  ])("$why is refused beside the field, and nothing is created", async ({ field, change, message }) => {
    const b = new Browser({ source: address() });
    const before = await counts();
    await b.get("/signup");
    const page = await b.post("/signup", { ...valid(), ...change });
    expect(page.status).toBe(400);
    const beside = new RegExp(
      `id="${field}"[^>]*aria-describedby="${field}-error"[^>]*/?>\\s*<span class="field-error" id="${field}-error">([^<]+)</span>`,
    ).exec(page.html);
    expect(beside?.[1]).toMatch(message);
    expect(b.sessionCookie()).toBeUndefined();
    expect(await counts()).toEqual(before);
  });

  it("a taken email is refused with 409, whatever its case, and nothing is created", async () => {
    const { email: taken } = await existingPerson();
    const b = new Browser({ source: address() });
    const before = await counts();
    await b.get("/signup");
    const page = await b.post("/signup", { ...valid(), email: taken.toUpperCase() });
    expect(page.status).toBe(409);
    expect(page.html).toMatch(/<span class="field-error" id="email-error">[^<]*already exists/);
    expect(b.sessionCookie()).toBeUndefined();
    expect(await counts()).toEqual(before);
    // The existing account is untouched: its password still works.
    expect((await attempt(b, taken, PASSWORD)).status).toBe(303);
  });
});

describe("device cookies: the person's own browsers do not wait for someone else's guesses", () => {
  const DEVICE = "__Host-outlay_device";

  /** A browser that completed a sign-in to `who` (and is signed out again): one of its devices. */
  async function knownDevice(who: string): Promise<Browser> {
    const b = new Browser({ source: address() });
    expect((await signIn(b, who)).status).toBe(303);
    expect(b.cookies.get(DEVICE)).toBeDefined();
    await b.get("/logout");
    await b.post("/logout");
    return b;
  }

  it("a completed sign-in sets a long-lived HttpOnly cookie; a wrong password does not", async () => {
    const { email: known } = await existingPerson();
    const b = new Browser({ source: address() });
    const wrong = await attempt(b, known, "not the password at all");
    expect(wrong.headers.getSetCookie().some((l) => l.startsWith(`${DEVICE}=`))).toBe(false);
    const right = await attempt(b, known, PASSWORD);
    const line = right.headers.getSetCookie().find((l) => l.startsWith(`${DEVICE}=`)) ?? "";
    expect(line).toMatch(/HttpOnly/i);
    expect(line).toMatch(/Secure/i);
    expect(line).toMatch(/SameSite=Lax/i);
    expect(line).toMatch(/Path=\//i);
    expect(line).toMatch(/Max-Age=15552000/i);
    expect(line).not.toMatch(/Domain=/i);
  });

  it("while someone elsewhere guesses the account into its longest delay, the person's browser signs in at once", async () => {
    const { email: known } = await existingPerson();
    const device = await knownDevice(known);
    const attacker = new Browser({ source: address() });
    await failMany(attacker, known, 30);
    const stranger = await attempt(new Browser({ source: address() }), known, PASSWORD);
    expect(stranger.status).toBe(429);
    const own = await attempt(device, known, PASSWORD);
    expect(own.status).toBe(303);
    // The person's sign-in does not wipe what the guesses earned.
    expect((await accountFailures(known))?.failures).toBe(30);
    expect((await attempt(new Browser({ source: address() }), known, PASSWORD)).status).toBe(429);
  });

  it("a device's own failures are counted against the device: the same free failures and delays", async () => {
    const { email: known } = await existingPerson();
    const device = await knownDevice(known);
    for (let i = 0; i < 3; i++) expect((await attempt(device, known, "not the password at all")).status).toBe(401);
    const waiting = await attempt(device, known, PASSWORD);
    expect(waiting.status).toBe(429);
    expect(waiting.headers.get("retry-after")).toBe("1");
    // The account itself was not charged: another browser is not delayed.
    expect(await accountFailures(known)).toBeNull();
    expect((await attempt(new Browser({ source: address() }), known, PASSWORD)).status).toBe(303);
  });

  it("a cookie made for one account, a forged or a garbled one counts against the account", async () => {
    const { email: known } = await existingPerson();
    const { email: other } = await existingPerson();
    const otherDevice = await knownDevice(other);
    const cookie = otherDevice.cookies.get(DEVICE) ?? "";
    const [nonce = "", mac = ""] = cookie.split(".");
    const flipped = `${nonce}.${mac.replace(/^./, (ch) => (ch === "0" ? "1" : "0"))}`;
    await failMany(new Browser({ source: address() }), known, 12);
    for (const value of [cookie, flipped, `${nonce}.`, "garbage", `${"a".repeat(32)}.${"0".repeat(64)}`]) {
      const b = new Browser({ source: address() });
      b.cookies.set(DEVICE, value);
      expect({ value, status: (await attempt(b, known, PASSWORD)).status }).toEqual({ value, status: 429 });
    }
  });

  it("only a complete sign-in makes a device: the password step of an account with TOTP does not", async () => {
    const owner = new Browser({ source: address() });
    const { email: who } = await signUp(owner);
    await owner.post("/account/mfa/start");
    const setup = await owner.get("/account/mfa");
    const secret = /<p class="secret">([A-Z2-7]+)<\/p>/.exec(setup.html)?.[1] ?? "";
    const bytes = Secret.fromBase32(secret).bytes;
    const code = totpAt(bytes, Date.now(), { algorithm: "SHA1", digits: 6 });
    expect((await owner.post("/account/mfa/confirm", { code })).status).toBe(200);
    const b = new Browser({ source: address() });
    const passwordOnly = await attempt(b, who, PASSWORD);
    expect(passwordOnly.location).toBe("/login/mfa");
    expect(b.cookies.has(DEVICE)).toBe(false);
  });
});
