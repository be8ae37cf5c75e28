// /usage (the usage explorer) in workerd: the table, chart and totals from the rollups, local days
// in the organisation's zone, the CSV equal to the table (and safe from formula injection),
// validation beside the fields, the htmx fragments, the row cap, presets, cross-tenant denial.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { parseDecimal } from "../../shared/money.ts";
import { formatFor } from "../../web/format.ts";
import { localDate } from "../../shared/zoned-time.ts";
import { csvCell } from "../../workers/dashboard/usage-report.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { newOrg, type Org } from "../auth/orgs.ts";
import { Browser, type Page } from "../auth/browser.ts";
import { createKey, parseCsv, setZone, table, text, usageEvent } from "./usage-support.ts";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 3, 0); // 2026-10-01 03:00 UTC: Sep 30, 23:00 in New York

function fieldError(page: Page, field: string): string {
  return text(new RegExp(`id="${field}-error">([^<]*)<`).exec(page.html)?.[1] ?? "");
}

describe("/usage", () => {
  let org: Org;
  let search: string;
  let ads: string;
  const f = formatFor("en-US", "America/New_York");

  beforeAll(async () => {
    org = await newOrg("Usage");
    await setZone(org.owner.b, "America/New_York");
    search = await createKey(org.owner.b, "search prod");
    ads = await createKey(org.owner.b, "ads batch");
    await writeUsage(env.DB, org.tenantId, [
      usageEvent(org.tenantId, T0, { keyId: search, dimensions: { team: "search" } }),
      usageEvent(org.tenantId, T0 + 10 * 60_000, { keyId: search, dimensions: { team: "search" } }),
      usageEvent(org.tenantId, T0 + 5 * HOUR, { keyId: ads, model: "gpt-4o-mini", costNanoUsd: 150_000 }),
      usageEvent(org.tenantId, T0 + 26 * HOUR, {
        keyId: ads,
        provider: "anthropic",
        model: "claude-x",
        costNanoUsd: null,
        dimensions: { team: '=HYPERLINK("https://evil.test","x")' },
      }),
    ]);
  }, 60_000);

  const RANGE = "from=2026-09-30&to=2026-10-03";

  it("shows a table by model, highest cost first, with exact totals and a chart", async () => {
    const page = await org.owner.b.get(`/usage?${RANGE}&group=model`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Usage</h1>");
    const { rows, total } = table(page.html);
    expect(rows).toEqual([
      ["gpt-4o", "2", "2,000", "1,000", "400", "$2.47", "0"],
      ["gpt-4o-mini", "1", "1,000", "500", "200", "$0.00015", "0"],
      ["claude-x", "1", "1,000", "500", "200", "$0.00", "1"],
    ]);
    expect(total).toEqual(["Total", "4", "4,000", "2,000", "800", "$2.47", "1"]);
    expect(page.html).toMatch(
      /<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="usage-chart-title usage-chart-desc"/,
    );
    expect(page.html).toContain('<title id="usage-chart-title">Cost by group</title>');
    expect(page.html).toContain("days and hours in America/New_York");
    // The form says what was asked, and works without JavaScript.
    expect(page.html).toMatch(/<form class="usage-form" method="get" action="\/usage"/);
    expect(page.html).toMatch(/<option value="model" selected="">Model<\/option>/);
    expect(page.html).toContain('<option value="dimension:team">Dimension “team”</option>');
  });

  it("reads days in the organisation's zone: 03:00 UTC is the evening before in New York", async () => {
    const page = await org.owner.b.get("/usage?from=2026-09-30&to=2026-10-01&group=day");
    expect(table(page.html).rows.map((r) => [r[0], r[1]])).toEqual([
      ["Sep 30, 2026", "2"],
      ["Oct 1, 2026", "1"],
    ]);
    const csv = parseCsv((await org.owner.b.request("/usage/export?from=2026-09-30&to=2026-10-01&group=day")).html);
    expect(csv.map((r) => r[0])).toEqual(["day", "2026-09-30", "2026-10-01", "Total"]);
    // Hours are labelled in the zone too, and exported with its offset.
    const hours = await org.owner.b.get("/usage?from=2026-09-30&to=2026-09-30&group=hour");
    expect(table(hours.html).rows.map((r) => r[0])).toEqual(["Sep 30, 23:00"]);
    const hourCsv = parseCsv(
      (await org.owner.b.request("/usage/export?from=2026-09-30&to=2026-09-30&group=hour")).html,
    );
    expect(hourCsv[1]?.[0]).toBe("2026-09-30T23:00:00-04:00");
  });

  it("exports exactly the rows and columns shown, cost as exact decimal USD", async () => {
    const query = `${RANGE}&group=model&group2=key`;
    const page = await org.owner.b.get(`/usage?${query}`);
    const shown = table(page.html);
    expect(page.html).toContain(`href="/usage/export?${query.replaceAll("&", "&amp;")}"`);
    const res = await org.owner.b.request(`/usage/export?${query}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="outlay-usage-2026-09-30-to-2026-10-03.csv"',
    );
    const [headers, ...lines] = parseCsv(res.html);
    expect(headers).toEqual([
      "model",
      "key",
      "key_prefix",
      "requests",
      "input_tokens",
      "output_tokens",
      "cached_input_tokens",
      "cost_usd",
      "unpriced_requests",
    ]);
    const totalLine = lines.pop();
    expect(lines.length).toBe(shown.rows.length);
    expect(lines.length).toBe(3);
    lines.forEach((line, i) => {
      const [model, key, prefix, ...numbers] = line;
      const cells = shown.rows[i] ?? [];
      expect(cells[0]).toBe(model);
      expect(cells[1]).toBe(`${key} ${prefix}…`);
      expect(prefix).toMatch(new RegExp(`^olk_${org.tenantId}_[a-z2-7]{12}$`));
      const cost = numbers[4] ?? "";
      expect(cost).toMatch(/^\d+\.\d{9}$/);
      expect(cells.slice(2)).toEqual([
        ...numbers.slice(0, 4).map((n) => f.count(Number(n))),
        f.usd(parseDecimal(cost) ?? -1n),
        f.count(Number(numbers[5])),
      ]);
    });
    expect(lines[0]?.slice(0, 2)).toEqual(["gpt-4o", "search prod"]);
    expect(lines[0]?.[7]).toBe("2.469135782");
    expect(totalLine).toEqual(["Total", "", "", "4", "4000", "2000", "800", "2.469285782", "1"]);
  });

  it("guards the CSV against formula injection", async () => {
    const res = await org.owner.b.request(`/usage/export?${RANGE}&group=dimension:team`);
    const lines = parseCsv(res.html);
    expect(lines.map((l) => l[0])).toEqual([
      "dimension:team",
      "search",
      "",
      '\'=HYPERLINK("https://evil.test","x")',
      "Total",
    ]);
    expect(res.html).toContain('"\'=HYPERLINK(""https://evil.test"",""x"")"');
    // The page shows the value as text, escaped; calls without the dimension are their own row.
    const page = await org.owner.b.get(`/usage?${RANGE}&group=dimension:team`);
    expect(table(page.html).rows.map((r) => r[0])).toEqual([
      "search",
      "(without it)",
      '=HYPERLINK("https://evil.test","x")',
    ]);
  });

  it("quotes CSV cells by RFC 4180 and defuses every formula prefix", () => {
    expect(
      ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "a,b", 'say "hi"', "line\nbreak"].map(csvCell),
    ).toEqual([
      "'=1+1",
      "'+1",
      "'-1",
      "'@SUM(A1)",
      "'\tx",
      '"\'\rx"',
      "plain",
      '"a,b"',
      '"say ""hi"""',
      '"line\nbreak"',
    ]);
  });

  it("filters by provider, model, key and dimension value", async () => {
    const rowsOf = async (query: string) => table((await org.owner.b.get(`/usage?${RANGE}&${query}`)).html).rows;
    expect((await rowsOf("group=model&provider=anthropic")).map((r) => r[0])).toEqual(["claude-x"]);
    expect((await rowsOf("group=model&model=gpt-4o-mini, claude-x")).map((r) => r[0])).toEqual([
      "gpt-4o-mini",
      "claude-x",
    ]);
    expect((await rowsOf(`group=model&key=${ads}`)).map((r) => r[0])).toEqual(["gpt-4o-mini", "claude-x"]);
    expect((await rowsOf("group=model&dim=team&dim_value=search")).map((r) => [r[0], r[1]])).toEqual([["gpt-4o", "2"]]);
    expect((await rowsOf("group=key&dim=team")).map((r) => r[1])).toEqual(["2", "1"]);
    // No grouping: one line of totals.
    const totals = table((await org.owner.b.get(`/usage?${RANGE}&group=none`)).html);
    expect(totals.rows).toEqual([]);
    expect(totals.total).toEqual(["All calls", "4", "4,000", "2,000", "800", "$2.47", "1"]);
  });

  it("says what is wrong beside the field, with status 400", async () => {
    const cases: [string, string, string][] = [
      ["from=2026-13-01", "from", "YYYY-MM-DD"],
      ["to=yesterday", "to", "YYYY-MM-DD"],
      ["from=1999-12-31&to=2000-01-02", "from", "2000 to 2099"],
      ["from=2026-10-05&to=2026-10-01", "from", "on or before the last day"],
      ["from=2025-01-01&to=2026-10-01", "from", "at most 400 days"],
      ["group=colour", "group", "Group by provider, model"],
      ["group=model&group2=model", "group2", "different"],
      ["group=dimension:team&group2=dimension:feature", "group2", "One dimension at a time"],
      ["group=dimension:feature&dim=team", "dim", "Filter by the dimension you group by"],
      ["dim_value=search", "dim", "Pick the dimension"],
      ["dim=Bad Name", "dim", "1-32 characters"],
      ["range=fortnight", "range", "Pick one of"],
      ["key=aaaaaaaaaaaa", "key", "No such key"],
      [`model=${"m".repeat(201)}`, "model", "200 characters"],
    ];
    for (const [query, field, message] of cases) {
      const page = await org.owner.b.get(`/usage?${query}`);
      expect({ query, status: page.status }).toEqual({ query, status: 400 });
      expect({ query, message: fieldError(page, field) }).toEqual({ query, message: expect.stringContaining(message) });
      expect(page.html).toContain("Correct the fields marked above");
      const csv = await org.owner.b.request(`/usage/export?${query}`);
      expect({ query, status: csv.status, type: csv.headers.get("content-type") }).toEqual({
        query,
        status: 400,
        type: "text/html; charset=UTF-8",
      });
    }
  });

  it("answers htmx with the results section alone, or the whole explorer for errors", async () => {
    const hx = (path: string, headers: Record<string, string> = {}) =>
      org.owner.b.request(path, { headers: { "hx-request": "true", ...headers } });
    const results = await hx(`/usage?${RANGE}&group=model`);
    expect(results.status).toBe(200);
    expect(results.html.startsWith('<section id="usage-results"')).toBe(true);
    expect(results.html).not.toContain("<html");
    expect(results.html).not.toContain('<form class="usage-form"');
    expect(table(results.html).rows.length).toBe(3);

    const whole = await hx(`/usage?${RANGE}&group=model`, { "hx-target": "div#explorer" });
    expect(whole.html.startsWith('<div id="explorer">')).toBe(true);
    expect(whole.html).toContain('<form class="usage-form"');

    const bad = await hx("/usage?group=colour");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("hx-retarget")).toBe("#explorer");
    expect(bad.headers.get("hx-reswap")).toBe("outerHTML");
    expect(bad.html.startsWith('<div id="explorer">')).toBe(true);
    expect(fieldError(bad, "group")).toContain("Group by provider");
    // A form with errors targets the whole explorer, so its messages go once fixed.
    expect(bad.html).toContain('hx-target="#explorer"');
    expect(results.html).not.toContain("<h1>");

    // The form asks htmx for the results and pushes the address.
    const page = await org.owner.b.get(`/usage?${RANGE}`);
    expect(page.html).toMatch(
      /<form class="usage-form" method="get" action="\/usage" hx-get="\/usage" hx-trigger="change, submit" hx-target="#usage-results" hx-swap="outerHTML" hx-push-url="true">/,
    );
    // A history restore wants the whole page.
    const restore = await hx(`/usage?${RANGE}`, { "hx-history-restore-request": "true" });
    expect(restore.html).toContain("<h1>Usage</h1>");
  });

  it("defaults to the last 30 days by day, and offers presets in the organisation's zone", async () => {
    const today = localDate("America/New_York", Date.now());
    const iso = (d: number) => new Date(d).toISOString().slice(0, 10);
    const fresh = await org.owner.b.get("/usage");
    expect(fresh.status).toBe(200);
    expect(fresh.html).toContain(`name="from" id="from" value="${iso(today - 29 * DAY)}"`);
    expect(fresh.html).toContain(`name="to" id="to" value="${iso(today)}"`);
    expect(fresh.html).toMatch(/<option value="day" selected="">Day<\/option>/);
    const week = await org.owner.b.get("/usage?range=7d&group=model");
    expect(week.html).toContain(`name="from" id="from" value="${iso(today - 6 * DAY)}"`);
    expect(week.html).toContain('href="/usage?range=7d&amp;group=model" aria-current="true">7 days</a>');
    expect(week.html).toContain('href="/usage?range=last_month&amp;group=model">Last month</a>');
    const last = await org.owner.b.get("/usage?range=last_month");
    const d = new Date(today);
    expect(last.html).toContain(`value="${iso(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1))}"`);
    expect(last.html).toContain(`value="${iso(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 0))}"`);
  });

  it("caps the rows at 1,000 and says so; the totals still cover every row", async () => {
    const capped = await newOrg("UsageCap");
    // 1,001 hours with one call each, written straight into the rollups.
    const start = Date.UTC(2026, 5, 1);
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
       INSERT INTO usage_rollups_hourly (tenant_id, hour, provider, model, key_id, dim_name, dim_value, requests,
         input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, unpriced_requests)
       SELECT ?1, ?2 + i * 3600000, 'openai', 'gpt-4o', 'aaaaaaaaaaaa', '', '', 1, 10, 0, 0, 5, 0, 1000000000, 0 FROM n`,
    )
      .bind(capped.tenantId, start)
      .run();
    // …and into the daily rollups, as the usage consumer would.
    await env.DB.prepare(
      `INSERT INTO usage_rollups_daily SELECT tenant_id, (hour / 86400000) * 86400000, provider, model, key_id, dim_name,
         dim_value, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
         SUM(output_tokens), SUM(reasoning_tokens), SUM(cost_nano_usd), SUM(unpriced_requests)
       FROM usage_rollups_hourly WHERE tenant_id = ?1 GROUP BY tenant_id, dim_name, 2, provider, model, key_id, dim_value`,
    )
      .bind(capped.tenantId)
      .run();
    const query = "from=2026-06-01&to=2026-08-31&group=hour";
    const page = await capped.owner.b.get(`/usage?${query}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("More than 1,000 rows: the first 1,000 are shown");
    const shown = table(page.html);
    expect(shown.rows.length).toBe(1000);
    expect(shown.total).toEqual(["Total (all rows)", "1,001", "10,010", "5,005", "0", "$1,001.00", "0"]);
    const csv = parseCsv((await capped.owner.b.request(`/usage/export?${query}`)).html);
    expect(csv.length).toBe(1 + 1000 + 1);
    expect(csv[1000]?.[0]).toBe(new Date(start + 999 * HOUR).toISOString().replace(".000Z", "+00:00"));
    expect(csv[1001]?.slice(1)).toEqual(["1001", "10010", "5005", "0", "1001.000000000", "0"]);
  });

  it("explains an empty range", async () => {
    const empty = await newOrg("UsageEmpty");
    const page = await empty.owner.b.get("/usage");
    expect(page.status).toBe(200);
    expect(page.html).toContain("No calls in this range match.");
    expect(page.html).not.toContain("<table");
    expect(page.html).not.toContain('<svg class="chart"');
    const csv = parseCsv((await empty.owner.b.request("/usage/export")).html);
    expect(csv).toEqual([
      ["day", "requests", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "unpriced_requests"],
      ["Total", "0", "0", "0", "0", "0.000000000", "0"],
    ]);
  });

  it("never shows another organisation's usage or keys", async () => {
    const other = await newOrg("UsageOther");
    const theirKey = await createKey(other.owner.b, "bravo secret key");
    await writeUsage(env.DB, other.tenantId, [
      usageEvent(other.tenantId, T0, { keyId: theirKey, model: "bravo-only-model", dimensions: { bravo: "x" } }),
    ]);
    const page = await org.owner.b.get(`/usage?${RANGE}&group=model`);
    expect(page.html).not.toContain("bravo");
    const theirs = await org.owner.b.get(`/usage?${RANGE}&group=model&key=${theirKey}`);
    expect(theirs.status).toBe(400);
    expect(fieldError(theirs, "key")).toBe("No such key in this organisation.");
    expect(theirs.html).not.toContain("bravo");
    const csv = await org.owner.b.request(`/usage/export?${RANGE}&group=model&key=${theirKey}`);
    expect(csv.status).toBe(400);
    expect(csv.html).not.toContain("bravo");
    const byModel = await org.owner.b.request(`/usage/export?${RANGE}&group=model&model=bravo-only-model`);
    expect(parseCsv(byModel.html).length).toBe(2);
    // Their own view has it.
    expect((await other.owner.b.get(`/usage?${RANGE}&group=model`)).html).toContain("bravo-only-model");
  });

  it("has nothing to post: the explorer only reads", async () => {
    await org.owner.b.get("/usage");
    for (const path of ["/usage", "/usage/export", "/usage/summary"]) {
      expect({ path, status: (await org.owner.b.post(path, { group: "model" })).status }).toEqual({
        path,
        status: 404,
      });
    }
  });

  it("sends people without a session to sign in", async () => {
    const stranger = new Browser();
    for (const path of ["/usage", "/usage/export"]) {
      const page = await stranger.get(path);
      expect(page.status).toBe(303);
      expect(page.location).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });
});
