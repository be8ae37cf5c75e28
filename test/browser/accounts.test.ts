// The account pages in real headless Chromium: sign up, enrol TOTP (the code computed from the
// setup key the page shows, as an authenticator app would), sign out, sign in with the password
// and the next code, invite a member, make an admin token shown once. No JavaScript is needed for
// any of it; screenshots of each page at 1280 px and 390 px go to test/artifacts/.
import { Secret, TOTP } from "otpauth";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launch, screenshots } from "./chromium.ts";

const BASE = inject("browserBase");
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
    await page.waitForURL(`${BASE}/account`);
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
    await page.waitForURL(`${BASE}/account`);
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
});
