// The Cloud AI spend page in real headless Chromium against `wrangler dev`: a CUR 2.0 bill
// (test/fixtures/cloud/cur2.ts) uploaded through the page with JavaScript on — the page's script
// asks the dashboard for a multipart upload, sends the part and completes it — the import's row
// polled by htmx until it is done, then the bill's figures on the page (expected amounts: see
// test/web/cloud.test.ts); a queued import's row swapped in place until done, without a reload.
// The same upload with JavaScript off goes through the plain form.
// Screenshots at 1280 px and 390 px go to test/artifacts/.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CUR2_ROWS, toCsv } from "../fixtures/cloud/cur2.ts";
import { launch, screenshots } from "./chromium.ts";

const BASE = inject("browserBase");
const PASSWORD = "a private passphrase for bills 4";
const BILL = Buffer.from(toCsv(CUR2_ROWS));

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser.close();
});

async function signUp(page: Page, label: string): Promise<void> {
  await page.goto(`${BASE}/signup`);
  await page.getByLabel("Your name").fill(`Bill ${label}`);
  await page.getByLabel("Email").fill(`cloud-${label}-${Date.now().toString(36)}@example.com`);
  await page.getByLabel("Organisation name").fill(`Cloud ${label}`);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${BASE}/`);
}

/** Uploads the bill on /cloud and waits for its import's row to say done (htmx polls it). */
async function upload(page: Page, fileName: string): Promise<void> {
  await page.goto(`${BASE}/cloud`);
  await page.getByLabel("Bill file").setInputFiles({ name: fileName, mimeType: "text/csv", buffer: BILL });
  await page.getByRole("button", { name: "Upload and import" }).click();
  await page.waitForURL(`${BASE}/cloud?uploaded=1`);
  const row = page.locator("tr", { has: page.getByRole("link", { name: fileName }) });
  await row.locator(".badge", { hasText: "done" }).waitFor({ timeout: 30_000 });
}

describe("Cloud AI spend in Chromium", () => {
  it("uploads a bill through the page's script, sees the import finish and the figures appear", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    const parts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "PUT") parts.push(new URL(r.url()).pathname);
    });
    await signUp(page, "script");
    // Listened to from here on: the browser's own request for /favicon.ico (there is none) is a 404.
    const failed: string[] = [];
    page.on("response", (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(`${BASE}/cloud`);
    await expect(page.getByRole("heading", { name: "No cloud bill yet" }).isVisible()).resolves.toBe(true);
    await screenshots(page, "cloud-empty");

    await upload(page, "cur-2025-06.csv");
    // The script sent the file as a part to the dashboard's part route.
    expect(parts).toEqual([expect.stringMatching(/^\/cloud\/uploads\/[a-z2-7]{12}\/parts\/1$/)]);
    await page.goto(`${BASE}/cloud?from=2025-06-01&to=2025-06-30`);
    const figure = (title: string) => page.locator(".figure", { has: page.getByRole("heading", { name: title }) });
    await expect(figure("AI spend").locator(".figure-value").textContent()).resolves.toBe("$105.70");
    await expect(figure("Credits and refunds").locator(".figure-value").textContent()).resolves.toBe("-$2.50");
    await expect(figure("Tax").locator(".figure-value").textContent()).resolves.toBe("$0.53");
    await expect(
      page
        .getByRole("row", { name: /p5\.48xlarge/ })
        .getByRole("cell")
        .allTextContents(),
    ).resolves.toEqual(["777788889999", "$98.32"]);
    await screenshots(page, "cloud-figures");
    expect({ errors: errors.filter((e) => !e.includes("404")), failed }).toEqual({ errors: [], failed: [] });
    await page.close();
  });

  it("follows a running import's progress in place: htmx polls its row until it is done", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signUp(page, "polling");
    await page.goto(`${BASE}/cloud`);
    // A multipart upload started and its part sent as the page's script does (the session's
    // cookie, the form's CSRF token as a header), not yet completed.
    const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute("value")) ?? "";
    const headers = { "x-csrf-token": csrf, origin: BASE };
    const started = (await (
      await page.request.post(`${BASE}/cloud/uploads`, {
        headers,
        form: { size: String(BILL.length), file_name: "polled.csv" },
      })
    ).json()) as { parts: { url: string }[]; complete_url: string };
    const sent = await page.request.put(`${BASE}${started.parts[0]?.url ?? ""}`, {
      headers: { ...headers, "content-type": "application/octet-stream" },
      data: BILL,
    });
    expect(sent.status()).toBe(200);
    await page.goto(`${BASE}/cloud`);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "polled.csv" }) });
    await expect(row.locator(".badge").textContent()).resolves.toBe("queued");
    await page.evaluate("window.notReloaded = true");
    const completed = await page.request.post(`${BASE}${started.complete_url}`, { headers, form: {} });
    expect(completed.status()).toBe(202);
    await row.locator(".badge", { hasText: "done" }).waitFor({ timeout: 30_000 });
    // The same document: the row was swapped in place, and the finished row no longer polls.
    await expect(page.evaluate("window.notReloaded === true")).resolves.toBe(true);
    await expect(row.getAttribute("hx-trigger")).resolves.toBeNull();
    await expect(row.getByRole("link", { name: "reload" }).isVisible()).resolves.toBe(true);
    await page.close();
  });

  it("uploads with JavaScript off through the plain form", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signUp(page, "plain");
    await page.goto(`${BASE}/cloud`);
    await page.getByLabel("Bill file").setInputFiles({ name: "plain.csv", mimeType: "text/csv", buffer: BILL });
    await page.getByRole("button", { name: "Upload and import" }).click();
    await page.waitForURL(`${BASE}/cloud?uploaded=1`);
    // No htmx: the import's own page, reloaded until it is done.
    const link = page.getByRole("link", { name: "plain.csv" });
    const href = (await link.getAttribute("href")) ?? "";
    for (let i = 0; i < 60; i++) {
      await page.goto(`${BASE}${href}`);
      if ((await page.locator(".badge", { hasText: "done" }).count()) > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await expect(page.locator(".badge").first().textContent()).resolves.toBe("done");
    await page.goto(`${BASE}/cloud?from=2025-06-01&to=2025-06-30`);
    await expect(page.locator(".figure-value").first().textContent()).resolves.toBe("$105.70");
    await context.close();
  });
});
