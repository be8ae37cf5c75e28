// Every password or code asked for inside a signed-in session goes through the sign-in throttle
// (workers/auth/sign-in.ts checkInSession): /account/password (the current password),
// /account/recovery-codes (the password), /account/mfa/remove (password and code). Someone holding
// a session — a borrowed laptop, a stolen cookie — gets no faster guessing than at /login: three
// free failures, then 1 s, 2 s, 4 s … per account (and per address), counted together with
// sign-in failures, asked before the password is looked at, and audited like a failed sign-in.
// Time is moved by ageing the throttle's rows, never by sleeping.
import { env } from "cloudflare:workers";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { accountSubject } from "../../workers/auth/throttle.ts";
import { totpAt } from "../../workers/auth/totp.ts";
import { Browser, PASSWORD, signIn, signUp, type Page } from "./browser.ts";
import { waitForAudit } from "./orgs.ts";

const WRONG = "not the password at all";
const NEW_PASSWORD = "a brand new long passphrase 5";

async function person() {
  const b = new Browser();
  const { email } = await signUp(b);
  const row = await env.DB.prepare(
    "SELECT u.id, m.tenant_id FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.email = ?",
  )
    .bind(email)
    .first<{ id: string; tenant_id: string }>();
  if (!row) throw new Error("no person");
  return { b, email, userId: row.id, tenantId: row.tenant_id };
}

async function failures(email: string): Promise<number> {
  const row = await env.DB.prepare("SELECT failures FROM sign_in_failures WHERE scope = 'account' AND subject = ?")
    .bind(await accountSubject(env, email))
    .first<{ failures: number }>();
  return row?.failures ?? 0;
}

/** The wait the last failure earned is over. */
async function waitIsOver(email: string) {
  await env.DB.prepare("UPDATE sign_in_failures SET last_at = last_at - 3600000 WHERE subject = ?")
    .bind(await accountSubject(env, email))
    .run();
}

async function passwordHash(userId: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ password_hash: string | null }>();
  return row?.password_hash ?? null;
}

async function enrol(b: Browser): Promise<Uint8Array> {
  await b.post("/account/mfa/start");
  const setup = await b.get("/account/mfa");
  const secret = /<p class="secret">([A-Z2-7]+)<\/p>/.exec(setup.html)?.[1] ?? "";
  const bytes = Secret.fromBase32(secret).bytes;
  const confirmed = await b.post("/account/mfa/confirm", {
    code: totpAt(bytes, Date.now(), { algorithm: "SHA1", digits: 6 }),
  });
  expect(confirmed.status).toBe(200);
  return bytes;
}

type Form = {
  path: string;
  wrong: Record<string, string>;
  right: () => Record<string, string>;
  done: (p: Page) => boolean;
};

async function forms(b: Browser): Promise<Form[]> {
  const secret = await enrol(b);
  // A code of the next step: later than the enrolment's, so never a replay.
  const nextCode = () => totpAt(secret, Date.now() + 30_000, { algorithm: "SHA1", digits: 6 });
  return [
    {
      path: "/account/password",
      wrong: { current: WRONG, password: NEW_PASSWORD },
      right: () => ({ current: PASSWORD, password: NEW_PASSWORD }),
      done: (p) => p.status === 303 && p.location === "/account?done=password",
    },
    {
      path: "/account/recovery-codes",
      wrong: { password: WRONG },
      right: () => ({ password: PASSWORD }),
      done: (p) => p.status === 200 && /[0-9a-z]{5}-[0-9a-z]{5}/.test(p.html),
    },
    {
      path: "/account/mfa/remove",
      wrong: { password: WRONG, code: nextCode() },
      right: () => ({ password: PASSWORD, code: nextCode() }),
      done: (p) => p.status === 303 && p.location === "/account?done=mfa-off",
    },
  ];
}

describe("passwords asked for inside a session are throttled like sign-in", () => {
  it.each(["/account/password", "/account/recovery-codes", "/account/mfa/remove"])(
    "%s: three free failures, then 429 with Retry-After — even for the right password, which is not checked",
    async (path) => {
      const p = await person();
      const form = (await forms(p.b)).find((f) => f.path === path);
      if (!form) throw new Error(path);
      const hash = await passwordHash(p.userId);
      for (let i = 1; i <= 3; i++) {
        await p.b.get("/account/mfa");
        const wrong = await p.b.post(path, form.wrong);
        expect({ i, status: wrong.status }).toEqual({ i, status: 400 });
      }
      expect(await failures(p.email)).toBe(3);
      const waiting = await p.b.post(path, form.right());
      expect(waiting.status).toBe(429);
      expect(waiting.headers.get("retry-after")).toBe("1");
      expect(waiting.html).toContain("Wait 1 seconds");
      expect(form.done(waiting)).toBe(false);
      // Not checked: neither counted as a failure nor acted on.
      expect(await failures(p.email)).toBe(3);
      expect(await passwordHash(p.userId)).toBe(hash);

      // Fifty quick guesses: only those sent after each doubling delay are checked (a handful
      // over the seconds this loop takes), every other one is refused before any hashing.
      let checked = 0;
      for (let i = 0; i < 50; i++) if ((await p.b.post(path, form.wrong)).status !== 429) checked += 1;
      expect(checked).toBeLessThanOrEqual(4);
      expect(await failures(p.email)).toBe(3 + checked);

      // The same delays hold at /login: the count is the account's.
      const elsewhere = new Browser();
      expect((await signIn(elsewhere, p.email)).status).toBe(429);

      await waitIsOver(p.email);
      await p.b.get("/account/mfa");
      expect(form.done(await p.b.post(path, form.right()))).toBe(true);
    },
  );

  it("a failure inside the session is audited like a failed sign-in, naming the form", async () => {
    const p = await person();
    await p.b.get("/account");
    expect((await p.b.post("/account/password", { current: WRONG, password: NEW_PASSWORD })).status).toBe(400);
    const event = await waitForAudit(p.tenantId, "auth.sign_in_failed", p.userId);
    expect(event.parsed).toMatchObject({ during: "password_change", source: p.b.source });
  });

  it("failures at /login count toward the session's checks too", async () => {
    const p = await person();
    const other = new Browser();
    for (let i = 0; i < 3; i++) await signIn(other, p.email, WRONG);
    await p.b.get("/account");
    const waiting = await p.b.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
    expect(waiting.status).toBe(429);
  });
});
