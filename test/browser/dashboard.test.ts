// The dashboard of issue #5 in real headless Chromium against `wrangler dev`: sign in with TOTP,
// add provider credentials and test the connection, create a key and see it once, call the
// gateway with it, see the spend on the overview and in the usage explorer (htmx swapping the
// results in place, the address pushed, the CSV of what is shown), create a budget on the page
// and see it refuse, find the refusal in the activity, rotate the key with a grace period (both
// secrets work), revoke it. The webhooks pages load under the CSP with no console errors. The explorer is also driven with JavaScript off. Screenshots of every page at 1280 px and
// 390 px go to test/artifacts/.
import { Secret, TOTP } from "otpauth";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launch, screenshots } from "./chromium.ts";

const BASE = inject("browserBase");
const UPSTREAM = inject("browserUpstreamUrl");
const EMAIL = `flow-${Date.now().toString(36)}@example.com`;
const PASSWORD = "another long private passphrase 7";
const KEY_PATTERN = /^olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}$/;

let browser: Browser;
let page: Page;
let totpSecret = "";
let key = "";

function code(offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(totpSecret), algorithm: "SHA1", digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

async function call(proxyKey: string, provider: "openai" | "anthropic", model: string): Promise<Response> {
  const init: { path: string; headers: Record<string, string>; body: unknown } =
    provider === "openai"
      ? {
          path: "/openai/v1/chat/completions",
          headers: { authorization: `Bearer ${proxyKey}` },
          body: { model, messages: [{ role: "user", content: "hello" }] },
        }
      : {
          path: "/anthropic/v1/messages",
          headers: { "x-api-key": proxyKey, "anthropic-version": "2023-06-01" },
          body: { model, max_tokens: 64, messages: [{ role: "user", content: "hello" }] },
        };
  return fetch(`${BASE}${init.path}`, {
    method: "POST",
    headers: { ...init.headers, "content-type": "application/json" },
    body: JSON.stringify(init.body),
  });
}

/** Reloads `path` until `ready` holds (usage reaches the rollups through the queue consumer). */
async function until(path: string, ready: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.goto(`${BASE}${path}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${path} never showed what was expected`);
}

beforeAll(async () => {
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await browser.close();
});

describe("the dashboard in Chromium", () => {
  it("signs up, enrols TOTP, and signs in with the password and a code", async () => {
    await page.goto(`${BASE}/signup`);
    await page.getByLabel("Your name").fill("Grace Flow");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Organisation name").fill("Flow Matic");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${BASE}/`);
    await page.goto(`${BASE}/account/mfa`);
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    totpSecret = (await page.locator("p.secret").first().textContent())?.trim() ?? "";
    await page.getByLabel("The 6-digit code the app shows").fill(code());
    await page.getByRole("button", { name: "Turn on" }).click();
    await expect(page.locator("ol.codes li").count()).resolves.toBe(10);

    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.waitForURL(`${BASE}/login`);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${BASE}/login/mfa`);
    await page.getByLabel("Code").fill(code(1));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${BASE}/`);
    // A new organisation's overview says what to do next.
    await expect(page.getByRole("heading", { name: "Get started" }).isVisible()).resolves.toBe(true);
    await screenshots(page, "overview-empty");
  });

  it("adds provider credentials, masked once saved, and tests the connection in place", async () => {
    await page.goto(`${BASE}/providers`);
    await screenshots(page, "providers-empty");
    for (const [name, path] of [
      ["openai", "/openai/v1"],
      ["anthropic", "/anthropic/v1"],
    ] as const) {
      await page.locator("select#provider").selectOption(name);
      await page.getByLabel("API key").fill(`demo-${name}-credential-for-the-browser`);
      await page.getByLabel("Base URL").fill(`${UPSTREAM}${path}`);
      await page.getByRole("button", { name: "Save credential" }).click();
      await page.waitForURL(/\/providers\?saved=/);
    }
    const body = (await page.textContent("body")) ?? "";
    expect(body).not.toContain("demo-openai-credential-for-the-browser");
    expect(body).toContain("dem…wser");

    // htmx swaps the result in beside the provider: the page is not reloaded.
    await page.evaluate("window.notReloaded = true");
    await page.locator("form.provider-test").first().getByRole("button", { name: "Test connection" }).click();
    await page.locator("#test-anthropic .badge, #test-openai .badge").first().waitFor();
    await expect(page.evaluate("window.notReloaded")).resolves.toBe(true);
    expect(await page.locator(".badge.ok", { hasText: "OK" }).count()).toBeGreaterThan(0);
    await screenshots(page, "providers");
  });

  it("creates a key shown once and calls the gateway with it", async () => {
    await page.goto(`${BASE}/keys`);
    await page.locator("input[name=name]").fill("flow key");
    await page.getByLabel("Bound dimensions").fill("team=flow, feature=chat");
    await page.getByRole("button", { name: "Create key" }).click();
    key = (await page.locator("#new-key").textContent())?.trim() ?? "";
    expect(key).toMatch(KEY_PATTERN);
    expect(page.url()).toBe(`${BASE}/keys`);
    await page.goto(`${BASE}/keys`);
    expect(await page.textContent("body")).not.toContain(key);

    for (let i = 0; i < 3; i++) {
      const openai = await call(key, "openai", "gpt-4o-mini");
      expect(openai.status).toBe(200);
      await openai.text();
    }
    const anthropic = await call(key, "anthropic", "claude-3-5-haiku-20241022");
    expect(anthropic.status).toBe(200);
    await anthropic.text();
  });

  it("shows the spend on the overview", async () => {
    const topModels = page.locator("section[aria-labelledby=top-models]");
    await until("/", async () =>
      ((await topModels.textContent({ timeout: 1000 }).catch(() => "")) ?? "").includes("gpt-4o-mini"),
    );
    const spend = (await page.locator("#spend-now .figure-value").first().textContent()) ?? "";
    expect(spend).toMatch(/^\$\d/);
    expect(spend).not.toBe("$0.00");
    expect(await topModels.textContent()).toContain("claude-3-5-haiku-20241022");
    // The chart has a text alternative: its data table.
    await expect(page.locator("svg[role=img] title").count()).resolves.toBeGreaterThan(0);
    await screenshots(page, "overview");
  });

  it("explores the usage: htmx swaps the results in place and pushes the address", async () => {
    await page.goto(`${BASE}/usage`);
    await page.evaluate("window.notReloaded = true");
    await page.locator("select#group").selectOption("model");
    await page.waitForURL(/group=model/);
    await page.locator("#usage-results", { hasText: "claude-3-5-haiku-20241022" }).waitFor();
    await expect(page.evaluate("window.notReloaded")).resolves.toBe(true);
    const results = (await page.locator("#usage-results").textContent()) ?? "";
    expect(results).toContain("gpt-4o-mini");
    await screenshots(page, "usage");

    // The CSV is what the page shows: the same rows.
    const csv = await page.request.get(`${BASE}/usage/export${new URL(page.url()).search}`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()["content-type"]).toContain("text/csv");
    const lines = (await csv.text()).trim().split(/\r?\n/);
    // A header, one line per model, and the totals line, as on the page.
    expect(lines.length).toBe(4);
    expect(lines[0]?.split(",")[0]).toBe("model");
    expect(
      lines
        .slice(1, 3)
        .map((l) => l.split(",")[0] ?? "")
        .sort((a, b) => a.localeCompare(b)),
    ).toEqual(["claude-3-5-haiku-20241022", "gpt-4o-mini"]);
    expect(lines[3]?.split(",")[0]).toBe("Total");

    // A bad range is refused beside its field, in place.
    await page.getByLabel("First day").fill("2020-01-02");
    await page.getByLabel("Last day").fill("2020-01-01");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator(".field-error").first().waitFor();
    await screenshots(page, "usage-error");
  });

  it("works without JavaScript: the explorer's form is a plain GET", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const cookies = await page.context().cookies();
    await context.addCookies(cookies);
    const plain = await context.newPage();
    await plain.goto(`${BASE}/usage`);
    await plain.locator("select#group").selectOption("provider");
    await plain.getByRole("button", { name: "Show" }).click();
    await plain.waitForURL(/group=provider/);
    const text = (await plain.locator("#usage-results").textContent()) ?? "";
    expect(text).toContain("openai");
    expect(text).toContain("anthropic");
    await context.close();
  });

  it("creates a budget on the page, with errors beside the fields, and sees it refuse", async () => {
    await page.goto(`${BASE}/budgets`);
    await screenshots(page, "budgets-empty");
    await page.goto(`${BASE}/budgets/new`);
    await page.locator("input#name").fill("Flow daily cap");
    await page.getByLabel("Limit (USD)").fill("a lot");
    await page.getByRole("button", { name: "Create budget" }).click();
    await expect(page.locator("#limit_usd-error").textContent()).resolves.toBeTruthy();
    await screenshots(page, "budget-error");
    await page.getByLabel("Limit (USD)").fill("0.000001");
    await page.getByRole("button", { name: "Create budget" }).click();
    await page.waitForURL(/\/budgets\?saved=/);
    expect(await page.textContent("body")).toContain("Flow daily cap");
    await screenshots(page, "budgets");

    const refused = await call(key, "openai", "gpt-4o-mini");
    expect(refused.status).toBe(402);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("budget_exceeded");

    await until("/activity", async () => ((await page.textContent("#activity")) ?? "").includes("budget exceeded"));
    expect(await page.textContent("#activity")).toContain("Flow daily cap");
    await screenshots(page, "activity");

    await page.goto(`${BASE}/policies`);
    await screenshots(page, "policies");
    await page.goto(`${BASE}/rate-limits`);
    await screenshots(page, "rate-limits");
    await page.goto(`${BASE}/policies/new`);
    await screenshots(page, "policy-new");

    // The budget is removed after a confirmation so the key can call again.
    await page.goto(`${BASE}/budgets`);
    await page.getByRole("link", { name: "Flow daily cap" }).click();
    await screenshots(page, "budget-edit");
    await page.goto(`${page.url()}/delete`);
    await page.getByRole("button", { name: /Delete/ }).click();
    await page.waitForURL(/\/budgets\?deleted=1/);
    const again = await call(key, "openai", "gpt-4o-mini");
    expect(again.status).toBe(200);
    await again.text();
  });

  it("rotates the key: the new one shown once, the old one kept for the grace period", async () => {
    await page.goto(`${BASE}/keys`);
    await page.getByRole("link", { name: "Rotate…" }).first().click();
    await page.locator("select#grace").selectOption({ label: "1 hour" });
    await screenshots(page, "keys-rotate");
    await page.getByRole("button", { name: "Rotate the key" }).click();
    const rotated = (await page.locator("#new-key").textContent())?.trim() ?? "";
    expect(rotated).toMatch(KEY_PATTERN);
    expect(rotated).not.toBe(key);
    // Same key id (budgets and reports follow it), a new secret.
    expect(rotated.split("_").slice(0, 3)).toEqual(key.split("_").slice(0, 3));
    await screenshots(page, "keys-rotated");
    for (const secret of [rotated, key]) {
      const res = await call(secret, "openai", "gpt-4o-mini");
      expect(res.status).toBe(200);
      await res.text();
    }
    key = rotated;
  });

  it("revokes the key after a confirmation", async () => {
    await page.goto(`${BASE}/keys`);
    await page.getByRole("link", { name: "Revoke…" }).first().click();
    await page.getByRole("button", { name: "Revoke the key" }).click();
    await page.waitForURL(`${BASE}/keys`);
    const refused = await call(key, "openai", "gpt-4o-mini");
    expect(refused.status).toBe(401);
    await refused.text();
  });

  it("is usable from the keyboard: skip link first, then the navigation, focus always shown", async () => {
    await page.goto(`${BASE}/usage`);
    await page.keyboard.press("Tab");
    await expect(page.evaluate("document.activeElement.textContent.trim()")).resolves.toBe("Skip to content");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await expect(page.evaluate("document.activeElement.textContent.trim()")).resolves.toBe("Overview");
    // The focused link draws an outline (the :focus-visible style), not only a colour change.
    await expect(page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).resolves.not.toBe("none");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Enter");
    await expect(page.evaluate("location.hash")).resolves.toBe("#main");
  });

  it("shows the webhooks pages under the CSP with no console errors, the secret once", async () => {
    const errors: string[] = [];
    const onConsole = (m: { type(): string; text(): string }) => {
      if (m.type() === "error") errors.push(m.text());
    };
    const onError = (e: Error) => errors.push(e.message);
    page.on("console", onConsole);
    page.on("pageerror", onError);
    await page.goto(`${BASE}/webhooks`);
    await screenshots(page, "webhooks-empty");
    await page.getByLabel("URL").fill("https://hooks.example.com/outlay");
    await page.locator('input[name="event_types"][value="org.closed"]').check();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = (await page.locator("#new-secret").textContent())?.trim() ?? "";
    expect(secret).toMatch(/^whsec_/);
    await screenshots(page, "webhooks-secret");
    await page.getByRole("link", { name: "Go to the endpoint" }).click();
    await expect(page.getByRole("heading", { name: "Deliveries" }).isVisible()).resolves.toBe(true);
    expect((await page.textContent("body")) ?? "").not.toContain(secret);
    await screenshots(page, "webhooks-endpoint");
    page.off("console", onConsole);
    page.off("pageerror", onError);
    expect(errors).toEqual([]);
  });

  it("shows the organisation pages in the same layout", async () => {
    for (const [path, name] of [
      ["/quickstart", "quickstart"],
      ["/org/members", "members"],
      ["/org/settings", "org-settings"],
      ["/account", "account"],
    ] as const) {
      await page.goto(`${BASE}${path}`);
      await expect(page.getByRole("navigation", { name: "Main" }).isVisible()).resolves.toBe(true);
      await screenshots(page, `flow-${name}`);
    }
  });
});
