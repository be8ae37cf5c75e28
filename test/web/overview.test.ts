// / (the overview) and /usage/summary in workerd: the getting-started state of a new organisation,
// spend from real calls through the gateway, budgets beside the figures, the 30-day trend in the
// organisation's zone with its data table, top lists linking into the explorer, unpriced models,
// recent refusals, the polled fragment, and nothing of another organisation.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { localDate } from "../../shared/zoned-time.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { Browser } from "../auth/browser.ts";
import { api, createToken, newOrg, waitForAudit } from "../auth/orgs.ts";
import { waitForEvent, worker } from "../helpers.ts";
import { createKey, setZone, text, usageEvent } from "./usage-support.ts";

const HOUR = 3_600_000;
const DAY = 86_400_000;

function chat(key: string, model = "gpt-4o-mini") {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** The rows of the table under the heading with `id` (name cell first). */
function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) return "";
  const end = html.indexOf("</section>", start);
  return html.slice(start, end);
}

function rows(html: string): string[][] {
  return [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...(m[1] ?? "").matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => text(c[1] ?? "")),
  );
}

describe("/ (overview)", () => {
  it("tells a new organisation what to do next", async () => {
    const org = await newOrg("Fresh");
    const page = await org.owner.b.get("/");
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Overview</h1>");
    expect(page.html).toContain("Get started");
    expect(page.html).toContain(`No calls have gone through Outlay for ${org.name} yet.`);
    for (const href of ["/keys", "/providers", "/quickstart"]) expect(page.html).toContain(`href="${href}"`);
    expect(page.html.match(/badge warn">to do</g)?.length).toBe(3);
    expect(page.html).not.toContain('id="trend"');
    expect(text(section(page.html, "spend-h"))).toContain("Today $0.00 0 requests since");
    expect(page.html).toContain("No budgets yet");
    expect(page.html).toContain("No calls refused so far");
    // A key made: that step reads done.
    await createKey(org.owner.b, "first");
    const after = await org.owner.b.get("/");
    expect(after.html.match(/badge ok">done</g)?.length).toBe(1);
  });

  it("shows the spend of real calls, budgets, top lists and refusals", async () => {
    const org = await newOrg("Live");
    const admin = await createToken(org.owner.b, "admin");
    const put = await api(admin.token, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(put.status).toBe(200);
    const keyPage = await (async () => {
      await org.owner.b.get("/keys");
      return org.owner.b.post("/keys", { name: "live key", dimensions: "team=search" });
    })();
    const key = /olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}/.exec(keyPage.html)?.[0] ?? "";
    const keyId = key.split("_")[2] ?? "";
    const daily = await api(admin.token, "/budgets", {
      method: "POST",
      json: { name: "Org daily cap", window: "daily", limit_usd: "100" },
    });
    expect(daily.status).toBe(201);
    const keyBudget = await api(admin.token, "/budgets", {
      method: "POST",
      json: {
        name: "Live key monthly",
        window: "monthly",
        limit_usd: "0.000001",
        mode: "alert",
        scope: { key_id: keyId },
      },
    });
    expect(keyBudget.status).toBe(201);
    const policy = await api(admin.token, "/policies", {
      method: "POST",
      json: { name: "No big models", deny_models: ["gpt-4o"] },
    });
    expect(policy.status).toBe(201);
    const policyId = ((await policy.json()) as { id: string }).id;

    const ok = await chat(key);
    expect(ok.status).toBe(200);
    await ok.text();
    await waitForEvent(org.tenantId, ok.headers.get("x-outlay-request-id") ?? "");
    const refused = await chat(key, "gpt-4o");
    expect(refused.status).toBe(403);
    await refused.text();
    await waitForAudit(org.tenantId, "call.refused", policyId);

    let page = await org.owner.b.get("/");
    for (let i = 0; i < 50 && !page.html.includes("Top models"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      page = await org.owner.b.get("/");
    }
    expect(page.status).toBe(200);
    expect(page.html).not.toContain("Get started");
    const spend = text(section(page.html, "spend-h"));
    expect(spend).toMatch(/Today \$0\.0000\d+ [12] requests? since/);
    // The tenant-wide daily budget sits beside "Today"; the key's budget is the nearest its limit.
    expect(spend).toContain("Org daily cap daily · whole organisation");
    expect(spend).toContain(
      "Budgets nearest their limit Live key monthly monthly · key “live key” limit reached alerts only",
    );
    expect(page.html).toContain('id="budget-');
    expect(page.html).toMatch(/<svg class="progress-bar" role="img"/);

    const models = rows(section(page.html, "top-models"));
    expect(models[1]?.[0]).toBe("gpt-4o-mini");
    expect(section(page.html, "top-models")).toContain('href="/usage?range=30d&amp;model=gpt-4o-mini&amp;group=day"');
    expect(rows(section(page.html, "top-providers"))[1]?.[0]).toBe("openai");
    const keys = section(page.html, "top-keys");
    expect(rows(keys)[1]?.[0]).toBe(`live key olk_${org.tenantId}_${keyId}…`);
    expect(keys).toContain(`href="/usage?range=30d&amp;key=${keyId}&amp;group=day"`);
    const dims = section(page.html, "top-dims");
    expect(rows(dims)[1]?.[0]).toBe("team = search");
    expect(dims).toContain('href="/usage?range=30d&amp;dim=team&amp;dim_value=search&amp;group=day"');

    const refusals = rows(section(page.html, "refusals-h"));
    expect(refusals[1]?.slice(1)).toEqual([
      `live key olk_${org.tenantId}_${keyId}…`,
      "openai · gpt-4o",
      "policy_denied (No big models)",
    ]);
    expect(section(page.html, "refusals-h")).toContain('href="/activity"');
    expect(page.html).not.toContain("Models without a price");
  });

  it("draws the 30-day trend in the organisation's zone, with a data table", async () => {
    const org = await newOrg("Trend");
    await setZone(org.owner.b, "America/New_York");
    // 03:00 UTC five days ago is the evening of the day before in New York.
    const utcDay = Math.floor(Date.now() / DAY) * DAY - 5 * DAY;
    const at = utcDay + 3 * HOUR;
    await writeUsage(env.DB, org.tenantId, [
      usageEvent(org.tenantId, at, { costNanoUsd: 2_500_000_000, dimensions: { team: "search" } }),
      usageEvent(org.tenantId, utcDay + 12 * HOUR, { model: "mystery-model", provider: "groq", costNanoUsd: null }),
    ]);
    const page = await org.owner.b.get("/");
    expect(page.html).toMatch(/<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="trend-title trend-desc"/);
    expect(page.html).toContain('<title id="trend-title">Spend per day,');
    expect(page.html).toContain("in America/New_York, $2.50 in all");
    expect(page.html.match(/<rect class="bar"/g)?.length).toBe(30);
    const trend = section(page.html, "trend-h");
    expect(trend).toContain("<details><summary>Data table</summary>");
    const table = rows(trend).slice(1);
    expect(table.length).toBe(30);
    const label = (d: number) => new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeZone: "UTC" }).format(d);
    const local = localDate("America/New_York", at);
    expect(local).toBe(utcDay - DAY);
    expect(table.find((r) => r[0] === label(local))?.slice(1)).toEqual(["$2.50", "1"]);
    expect(table.find((r) => r[0] === label(utcDay))?.slice(1)).toEqual(["$0.00", "1"]);
    expect(table.at(-1)?.[0]).toBe(label(localDate("America/New_York", Date.now())));

    // The unpriced model is flagged with what to do about it.
    const unpriced = section(page.html, "unpriced-h");
    expect(text(unpriced)).toContain("PUT /api/v1/prices/overrides");
    expect(text(unpriced)).toContain("groq · mystery-model: 1 unpriced request");
    expect(unpriced).toContain('href="/usage?range=30d&amp;provider=groq&amp;model=mystery-model&amp;group=day"');
  });

  it("serves the spend figures as a polled fragment and as a page", async () => {
    const org = await newOrg("Poll");
    const page = await org.owner.b.get("/");
    expect(page.html).toContain(
      '<section id="spend-now" class="card" aria-labelledby="spend-h" hx-get="/usage/summary" hx-trigger="every 30s" hx-swap="outerHTML">',
    );
    await writeUsage(env.DB, org.tenantId, [
      usageEvent(org.tenantId, Date.now() - 60_000, { costNanoUsd: 7_000_000_000 }),
    ]);
    const fragment = await org.owner.b.request("/usage/summary", { headers: { "hx-request": "true" } });
    expect(fragment.status).toBe(200);
    expect(fragment.html.startsWith('<section id="spend-now"')).toBe(true);
    expect(fragment.html).not.toContain("<html");
    expect(text(fragment.html)).toMatch(/Today \$7\.00 1 request since .* This week \$7\.00 .* This month \$7\.00/);
    const full = await org.owner.b.get("/usage/summary");
    expect(full.html).toContain("<h1>Spend now</h1>");
    expect(full.html).toContain("<html");
  });

  it("never shows another organisation's spend, keys or budgets", async () => {
    const a = await newOrg("OverA");
    const b = await newOrg("OverB");
    const bKey = await createKey(b.owner.b, "bravo secret key");
    await writeUsage(env.DB, b.tenantId, [
      usageEvent(b.tenantId, Date.now() - 60_000, { keyId: bKey, model: "bravo-model", dimensions: { bravo: "x" } }),
    ]);
    const bToken = await createToken(b.owner.b, "admin");
    expect(
      (
        await api(bToken.token, "/budgets", {
          method: "POST",
          json: { name: "bravo budget", window: "daily", limit_usd: "1" },
        })
      ).status,
    ).toBe(201);
    await writeUsage(env.DB, a.tenantId, [usageEvent(a.tenantId, Date.now() - 60_000)]);
    for (const path of ["/", "/usage/summary"]) {
      const page = await a.owner.b.get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 200 });
      expect({ path, leaked: page.html.toLowerCase().includes("bravo") }).toEqual({ path, leaked: false });
    }
    expect((await b.owner.b.get("/")).html).toContain("bravo-model");
  });

  it("sends people without a session to sign in", async () => {
    const stranger = new Browser();
    const home = await stranger.get("/");
    expect(home.status).toBe(303);
    expect(home.location).toBe("/login?next=%2F");
    const summary = await stranger.get("/usage/summary");
    expect(summary.status).toBe(303);
  });
});
