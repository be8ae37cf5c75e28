// The account pages in real headless Chromium: sign up, enrol TOTP (the code computed from the
// setup key the page shows, as an authenticator app would), sign out, sign in with the password
// and the next code, invite a member, make an admin token shown once. No JavaScript is needed for
// any of it; screenshots of each page at 1280 px and 390 px go to test/artifacts/.
import { Secret, TOTP } from "otpauth";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launch, screenshots } from "./chromium.ts";

const BASE = inject("browserBase");
const UPSTREAM = inject("browserUpstreamUrl");
const EMAIL = `owner-${Date.now().toString(36)}@example.com`;
const PASSWORD = "a long and private passphrase 9";

let browser: Browser;
let page: Page;
let totpSecret = "";

/** The code an authenticator app shows `offsetSteps` 30-second steps from now. */
function code(offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(totpSecret), algorithm: "SHA1", digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

beforeAll(async () => {
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await browser.close();
});

describe("accounts in Chromium", () => {
  it("signs up and lands on the account page", async () => {
    await page.goto(`${BASE}/signup`);
    await screenshots(page, "signup");
    await page.getByLabel("Your name").fill("Ada Owner");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Organisation name").fill("Analytical Engines");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${BASE}/`);
    await page.goto(`${BASE}/account`);
    await expect(page.getByRole("heading", { name: "Your account" }).isVisible()).resolves.toBe(true);
    expect(await page.textContent("body")).toContain(EMAIL);
    await screenshots(page, "account");
  });

  it("shows a field's error beside it and keeps what was typed", async () => {
    const other = await browser.newPage();
    await other.goto(`${BASE}/signup`);
    await other.getByLabel("Your name").fill("Short Password");
    await other.getByLabel("Email").fill(`short-${EMAIL}`);
    await other.getByLabel("Organisation name").fill("Shorts");
    await other.getByLabel("Password").fill("short");
    await other.getByRole("button", { name: "Create account" }).click();
    await expect(other.locator("#password-error").textContent()).resolves.toContain("at least 12 characters");
    await expect(other.getByLabel("Email").inputValue()).resolves.toBe(`short-${EMAIL}`);
    await screenshots(other, "signup-error");
    await other.close();
  });

  it("enrols an authenticator app with the QR code or the setup key", async () => {
    await page.goto(`${BASE}/account/mfa`);
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    await page.waitForURL(`${BASE}/account/mfa`);
    const qr = page.locator("img.qr");
    // The image decoded (the project's TypeScript has no DOM library: the element is described here).
    const loaded = qr.evaluate((img) => {
      const image = img as unknown as { complete: boolean; naturalWidth: number };
      return image.complete && image.naturalWidth > 0;
    });
    await expect(loaded).resolves.toBe(true);
    totpSecret = (await page.locator("p.secret").first().textContent())?.trim() ?? "";
    expect(totpSecret).toMatch(/^[A-Z2-7]{32}$/);
    await screenshots(page, "mfa-setup");
    await page.getByLabel("The 6-digit code the app shows").fill(code());
    await page.getByRole("button", { name: "Turn on" }).click();
    await expect(page.locator("ol.codes li").count()).resolves.toBe(10);
    await screenshots(page, "recovery-codes");
  });

  it("signs out, then in with the password and the next code", async () => {
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.waitForURL(`${BASE}/login`);
    await screenshots(page, "login");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${BASE}/login/mfa`);
    await screenshots(page, "login-mfa");
    // The enrolment used this step's code: the next step's is accepted (one step of drift).
    await page.getByLabel("Code").fill(code(1));
    await page.getByRole("button", { name: "Verify" }).click();
    // Signed in, the overview is the first page.
    await page.waitForURL(`${BASE}/`);
    await expect(page.getByRole("heading", { name: "Overview" }).isVisible()).resolves.toBe(true);
    await page.goto(`${BASE}/account`);
    expect(await page.textContent("body")).toContain("10 of 10 recovery codes left");
  });

  it("invites a member and makes an admin token shown once", async () => {
    await page.goto(`${BASE}/org/members`);
    await page.getByRole("button", { name: "Make invitation link" }).click();
    expect(await page.locator("p.secret").first().textContent()).toContain(`${BASE}/invite/`);
    await screenshots(page, "members");
    await page.goto(`${BASE}/org/settings`);
    await page.getByLabel("Token name").fill("ci");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.locator("p.secret").first().textContent()) ?? "";
    expect(token).toMatch(/^ola_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}$/);
    await screenshots(page, "org-settings");
    await page.reload();
    expect(await page.textContent("body")).not.toContain(token);
    const res = await fetch(`${BASE}/api/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  it("creates a proxy key shown once, calls through it, sees its spend, and revokes it", async () => {
    // Providers point at the demo upstream, set through the API with the token made above.
    await page.goto(`${BASE}/org/settings`);
    await page.getByLabel("Token name").fill("setup");
    await page.locator("select[name=role]").last().selectOption("admin");
    await page.getByRole("button", { name: "Create token" }).click();
    const admin = (await page.locator("p.secret").first().textContent()) ?? "";
    const put = await fetch(`${BASE}/api/v1/providers/openai`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ api_key: "demo-key-not-a-provider-key", base_url: `${UPSTREAM}/openai/v1` }),
    });
    expect(put.status).toBe(200);

    await page.goto(`${BASE}/keys`);
    await screenshots(page, "keys-empty");
    await page.locator("input[name=name]").fill("browser test");
    await page.getByLabel("Bound dimensions").fill("team=web");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.locator("#new-key").textContent())?.trim() ?? "";
    expect(key).toMatch(/^olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}$/);
    await screenshots(page, "keys-created");
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
    await page.getByRole("button", { name: "Copy" }).click();
    // The label changes once the clipboard write has resolved: wait for it rather than race it.
    await page.getByRole("button", { name: "Copied" }).waitFor({ state: "visible", timeout: 5_000 });
    await expect(page.evaluate("navigator.clipboard.readText()")).resolves.toBe(key);

    const call = await fetch(`${BASE}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(call.status).toBe(200);
    await call.text();
    // The queue consumer rolls the call up; the keys page shows its spend this month.
    let spent = "";
    for (let i = 0; i < 60 && !/\$0\.0000\d+/.test(spent); i++) {
      await page.goto(`${BASE}/keys`);
      spent = (await page.locator("td.num").first().textContent()) ?? "";
      if (!/\$0\.0000\d+/.test(spent)) await new Promise((r) => setTimeout(r, 250));
    }
    expect(spent).toMatch(/^\$0\.0000\d+$/);
    expect(await page.textContent("body")).not.toContain(key);
    await screenshots(page, "keys");

    await page.getByRole("link", { name: "Revoke…" }).click();
    await screenshots(page, "keys-revoke");
    await page.getByRole("button", { name: "Revoke the key" }).click();
    await page.waitForURL(`${BASE}/keys`);
    await expect(page.locator(".badge.danger").first().textContent()).resolves.toBe("revoked");
    const refused = await fetch(`${BASE}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(refused.status).toBe(401);
  });

  it("shows the quick start for this deployment", async () => {
    await page.goto(`${BASE}/quickstart`);
    expect(await page.textContent("body")).toContain(`${BASE}/openai/v1`);
    await screenshots(page, "quickstart");
  });
});
