// /budgets: route tests in workerd — create and edit through the form (the rule equals what the
// API returns, audited with the person), errors beside each field, the current window's figures
// after real calls through the gateway, a budget made here refusing a call, the htmx fragment,
// deletion after confirmation, roles, CSRF and another organisation's ids.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { formatFor } from "../../web/format.ts";
import { waitForEvent, worker } from "../helpers.ts";
import { addMember, api, count, createToken, newOrg, waitForAudit, type Org } from "../auth/orgs.ts";
import type { Browser, Page } from "../auth/browser.ts";

type Fields = Record<string, string>;

const VALID: Fields = { name: "Team budget", limit_usd: "10", window: "monthly", mode: "block", thresholds: "50, 80" };

async function postForm(b: Browser, path: string, fields: Fields): Promise<Page> {
  await b.get("/budgets");
  return b.post(path, fields);
}

/** Creates a budget on the page; its id is read off the redirect to the list. */
async function createBudget(b: Browser, fields: Fields): Promise<{ page: Page; id: string | null }> {
  const page = await postForm(b, "/budgets", fields);
  return { page, id: /^\/budgets\?saved=([a-z2-7]{12})$/.exec(page.location ?? "")?.[1] ?? null };
}

/** The message beside a field (its element has id `<field>-error`). */
function fieldError(html: string, field: string): string | null {
  return new RegExp(`id="${field}-error">([^<]*)<`).exec(html)?.[1] ?? null;
}

/** The `value="…"` attributes the text fields of `fields` must keep (selects are not text). */
function typedValues(fields: Fields): string[] {
  return Object.entries(fields)
    .filter(([name]) => !["key_id", "window", "mode", "fail_open"].includes(name))
    .map(([, value]) => `value="${value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("'", "&#39;")}"`);
}

async function createKey(b: Browser, name: string): Promise<{ key: string; id: string }> {
  await b.get("/keys");
  const page = await b.post("/keys", { name });
  const key = /olk_[a-z2-7]{12}_([a-z2-7]{12})_[a-z2-7]{32}/.exec(page.html);
  if (!key?.[1]) throw new Error(`key: ${page.status}`);
  return { key: key[0], id: key[1] };
}

function chat(key: string, extra: Record<string, unknown> = {}) {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], ...extra }),
  });
}

async function adminToken(org: Org): Promise<string> {
  return (await createToken(org.owner.b, "admin")).token;
}

function rules(tenantId: string): Promise<number> {
  return count("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND kind = 'budget'", tenantId);
}

describe("/budgets", () => {
  it("explains what a budget does when there is none; only those who may create see the link", async () => {
    const org = await newOrg("BudgetsEmpty");
    const viewer = await addMember(org, "viewer");
    const member = await addMember(org, "member");
    const owners = await org.owner.b.get("/budgets");
    expect(owners.status).toBe(200);
    expect(owners.html).toContain("No budgets yet");
    expect(owners.html).toContain('href="/budgets/new"');
    for (const who of [viewer, member]) {
      const page = await who.b.get("/budgets");
      expect(page.status).toBe(200);
      expect(page.html).toContain("No budgets yet");
      expect(page.html).toContain("Owners and admins of the organisation can create budgets.");
      expect(page.html).not.toContain('href="/budgets/new"');
    }
  });

  it("creates a budget from every field: the rule equals what the API returns, audited with the person", async () => {
    const org = await newOrg("BudgetsCreate");
    const token = await adminToken(org);
    const key = await createKey(org.owner.b, "search prod");
    const form = await org.owner.b.get("/budgets/new");
    expect(form.status).toBe(200);
    for (const field of [
      "name",
      "limit_usd",
      "window",
      "rolling_hours",
      "mode",
      "thresholds",
      "key_id",
      "provider",
      "model",
      "dimensions",
      "fail_open",
    ]) {
      expect({ field, shown: form.html.includes(`name="${field}" id="${field}"`) }).toEqual({ field, shown: true });
    }
    expect(form.html).toContain(`<option value="${key.id}">search prod`);

    const { page, id } = await createBudget(org.owner.b, {
      name: "Search team",
      limit_usd: "$25.50",
      window: "rolling",
      rolling_hours: "6",
      mode: "alert",
      thresholds: "80%, 50, 100",
      key_id: key.id,
      provider: "openai",
      model: "gpt-4o*",
      dimensions: "team=search, project=assistant",
      fail_open: "on",
    });
    expect(page.status).toBe(303);
    expect(id).not.toBeNull();

    const fromApi = (await (await api(token, `/budgets/${id}`)).json()) as Record<string, unknown>;
    expect(fromApi).toMatchObject({
      id,
      name: "Search team",
      scope: {
        key_id: key.id,
        provider: "openai",
        model: "gpt-4o*",
        dimensions: { team: "search", project: "assistant" },
      },
      window: "rolling",
      rolling_hours: 6,
      limit_usd: "25.500000000",
      mode: "alert",
      thresholds: [50, 80, 100],
      fail_open: true,
    });
    const audit = await waitForAudit(org.tenantId, "rule.created", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
    expect(audit.parsed).toMatchObject({ kind: "budget", name: "Search team" });

    const list = await org.owner.b.get(page.location ?? "");
    expect(list.html).toContain("Saved the budget “Search team”.");
    expect(list.html).toContain("key “search prod”");
    expect(list.html).toContain("provider openai; model gpt-4o*; team=search, project=assistant");
    expect(list.html).toContain("Rolling 6\u00a0h");
    expect(list.html).toContain('<td class="num">$25.50</td>');
    expect(list.html).toContain("Within the limit");

    // A second budget with the form's defaults: the whole organisation, thresholds as given.
    const plain = await createBudget(org.owner.b, VALID);
    expect(plain.page.status).toBe(303);
    const plainApi = (await (await api(token, `/budgets/${plain.id}`)).json()) as Record<string, unknown>;
    expect(plainApi).toMatchObject({
      scope: { key_id: null, provider: null, model: null, dimensions: {} },
      window: "monthly",
      rolling_hours: null,
      limit_usd: "10.000000000",
      mode: "block",
      thresholds: [50, 80],
      fail_open: false,
    });
    expect((await org.owner.b.get("/budgets")).html).toContain("Whole organisation");
  });

  it("says what is wrong beside each field, keeps what was typed, and saves nothing", async () => {
    const org = await newOrg("BudgetsBad");
    const other = await newOrg("BudgetsOtherKeys");
    const othersKey = await createKey(other.owner.b, "not yours");
    const long = "x".repeat(201);
    const cases: [Fields, string, string][] = [
      [{ name: "" }, "name", "Name is required."],
      [{ name: "n".repeat(101) }, "name", "Name must be at most 100 characters."],
      [{ limit_usd: "abc" }, "limit_usd", "Write the limit in US dollars"],
      [{ limit_usd: "12,50" }, "limit_usd", "Write the limit in US dollars"],
      [{ limit_usd: "-5" }, "limit_usd", "Write the limit in US dollars"],
      [{ limit_usd: "" }, "limit_usd", "Write the limit in US dollars"],
      [{ limit_usd: "2000000000" }, "limit_usd", "The limit can be at most $1,000,000,000."],
      [{ window: "fortnightly" }, "window", "Choose a window from the list."],
      [{ window: "rolling" }, "rolling_hours", "A rolling window needs its length in hours"],
      [{ window: "rolling", rolling_hours: "six" }, "rolling_hours", "Rolling hours must be a whole number."],
      [{ window: "rolling", rolling_hours: "9000" }, "rolling_hours", "Rolling hours must be at most 8,760."],
      [{ window: "rolling", rolling_hours: "0" }, "rolling_hours", "Rolling hours must be at least 1."],
      [{ mode: "sometimes" }, "mode", "Choose a mode from the list."],
      [{ thresholds: "50, 80, 50" }, "thresholds", "Thresholds must not repeat a percent."],
      [{ thresholds: "fifty" }, "thresholds", "Each threshold must be a whole number."],
      [{ thresholds: "0" }, "thresholds", "Each threshold must be at least 1."],
      [{ thresholds: "1001" }, "thresholds", "Each threshold must be at most 1,000."],
      [{ thresholds: "1 2 3 4 5 6 7 8 9 10 11" }, "thresholds", "Thresholds: at most 10 entries."],
      [{ key_id: "aaaaaaaaaaaa" }, "key_id", "Choose one of this organisation&#39;s keys."],
      [{ key_id: othersKey.id }, "key_id", "Choose one of this organisation&#39;s keys."],
      [{ key_id: "not a key" }, "key_id", "Choose a key from the list."],
      [{ provider: long }, "provider", "Provider pattern must be at most 200 characters."],
      [{ model: long }, "model", "Model pattern must be at most 200 characters."],
      [{ dimensions: "team" }, "dimensions", "Write each dimension as name=value"],
      [{ dimensions: "team=a, team=b" }, "dimensions", "is given twice"],
      [{ dimensions: "Bad Name=x" }, "dimensions", "Dimension name &quot;Bad Name&quot; must be 1-32 characters"],
      [{ dimensions: "team=" }, "dimensions", "must have a value of 1-128 printable ASCII characters"],
    ];
    for (const [change, field, message] of cases) {
      const fields = { ...VALID, ...change };
      const { page, id } = await createBudget(org.owner.b, fields);
      expect({ change, status: page.status, id }).toEqual({ change, status: 400, id: null });
      expect({ change, error: fieldError(page.html, field) ?? "" }).toEqual({
        change,
        error: expect.stringContaining(message),
      });
      expect(page.html).toContain(`aria-describedby="${field}-error"`);
      expect(page.html).toContain("The budget was not saved");
      // What was typed stays in the form.
      const lost = typedValues(change).filter((value) => !page.html.includes(value));
      expect({ change, lost }).toEqual({ change, lost: [] });
    }
    // Several fields wrong at once: each gets its own message.
    const many = await createBudget(org.owner.b, { ...VALID, name: "", limit_usd: "ten", thresholds: "x" });
    expect(fieldError(many.page.html, "name")).toBe("Name is required.");
    expect(fieldError(many.page.html, "limit_usd")).toContain("US dollars");
    expect(fieldError(many.page.html, "thresholds")).toBe("Each threshold must be a whole number.");
    expect(await rules(org.tenantId)).toBe(0);
  });

  it("shows spent, held and remaining after real calls; a budget made here refuses calls that do not fit", async () => {
    const org = await newOrg("BudgetsSpend");
    const token = await adminToken(org);
    const put = await api(token, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(put.status).toBe(200);
    const key = await createKey(org.owner.b, "spender");
    const { id } = await createBudget(org.owner.b, { ...VALID, name: "Tiny", limit_usd: "0.001" });
    expect(id).not.toBeNull();

    const ok = await chat(key.key, { max_tokens: 16 });
    expect(ok.status).toBe(200);
    await ok.text();
    await waitForEvent(org.tenantId, ok.headers.get("x-outlay-request-id") ?? "");

    // The settled cost shows on the list, in the same figures the API gives.
    let status = await ledgerFor(env, org.tenantId).budgetStatus({ id: id ?? "" });
    for (let i = 0; i < 50 && (status?.spentNano ?? 0n) === 0n; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await ledgerFor(env, org.tenantId).budgetStatus({ id: id ?? "" });
    }
    expect(status?.spentNano).toBeGreaterThan(0n);
    const fromApi = (await (await api(token, `/budgets/${id}`)).json()) as { current: { spent_usd: string } };
    expect(Number(fromApi.current.spent_usd)).toBeGreaterThan(0);
    const list = await org.owner.b.get("/budgets");
    const spent = /<strong>([^<]+)<\/strong> spent \(([^)]+)\)/.exec(list.html);
    const plain = formatFor("en-US", "UTC");
    expect(spent?.[1]).toBe(plain.usd(status?.spentNano ?? -1n));
    expect(spent?.[1]).toMatch(/^\$0\.0000\d+$/);
    expect(spent?.[2]).toBe(`${(Number(((status?.spentNano ?? 0n) * 1000n) / 1_000_000n) / 10).toString()}%`);
    expect(list.html).toContain("$0.00 held");
    expect(list.html).toContain(`${plain.usd(status?.remainingNano ?? -1n)} remaining`);
    expect(list.html).toContain("of $0.001</span>");
    expect(list.html).toContain('role="img"');
    expect(list.html).toContain("<title id=");

    // Without an output limit the call's worst case (4,096 tokens) does not fit what is left.
    const refused = await chat(key.key);
    expect(refused.status).toBe(402);
    expect(refused.headers.get("x-outlay-refusal")).toBe("budget_exceeded");
    expect(refused.headers.get("x-outlay-refusal-rule")).toBe(id);
    await refused.text();

    // Lowered below what was spent, the budget is exhausted: every call is refused, and it says so.
    const edit = await org.owner.b.get(`/budgets/${id}`);
    expect(edit.html).toContain('value="0.001"');
    expect(edit.html).toContain("Changing the window restarts the count from zero.");
    const lowered = await postForm(org.owner.b, `/budgets/${id}`, { ...VALID, name: "Tiny", limit_usd: "0.000001" });
    expect(lowered.status).toBe(303);
    expect((await org.owner.b.get("/budgets")).html).toContain("Limit reached: calls are refused");
    const small = await chat(key.key, { max_tokens: 1 });
    expect(small.status).toBe(402);
    await small.text();

    // A new window restarts the count.
    const weekly = await postForm(org.owner.b, `/budgets/${id}`, {
      ...VALID,
      name: "Tiny",
      limit_usd: "0.001",
      window: "weekly",
    });
    expect(weekly.status).toBe(303);
    const after = await ledgerFor(env, org.tenantId).budgetStatus({ id: id ?? "" });
    expect(after?.spentNano).toBe(0n);
    expect((await org.owner.b.get("/budgets")).html).toContain("<strong>$0.00</strong> spent (0%)");
    const audit = await waitForAudit(org.tenantId, "rule.updated", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
  });

  it("shows every kind of window with the current window's dates in the organisation's time zone", async () => {
    const org = await newOrg("BudgetsWindows");
    const token = await adminToken(org);
    const zone = "Pacific/Kiritimati"; // UTC+14: its date differs from UTC's for ten hours a day
    expect((await api(token, "/settings", { method: "PATCH", json: { time_zone: zone } })).status).toBe(200);
    const ids: Record<string, string> = {};
    for (const window of ["daily", "weekly", "monthly", "rolling", "lifetime"]) {
      const made = await createBudget(org.owner.b, { ...VALID, name: `${window} budget`, window, rolling_hours: "48" });
      expect({ window, status: made.page.status }).toEqual({ window, status: 303 });
      ids[window] = made.id ?? "";
    }
    const page = await org.owner.b.get("/budgets");
    expect(page.status).toBe(200);
    const ledger = ledgerFor(env, org.tenantId);
    const settings = await ledger.getSettings();
    const f = formatFor(settings.locale, zone);
    const status = async (window: string) => {
      const s = await ledger.budgetStatus({ id: ids[window] ?? "" });
      if (!s) throw new Error(`no ${window} budget`);
      return s;
    };
    const today = new Intl.DateTimeFormat(settings.locale, { dateStyle: "medium", timeZone: zone }).format(Date.now());
    expect(page.html).toContain(`Daily<br/><span class="hint">${today}</span>`);
    const weekly = await status("weekly");
    expect(page.html).toContain(
      `Weekly<br/><span class="hint">${f.date(weekly.windowStart)} – ${f.date(weekly.windowEnd - 1)}</span>`,
    );
    const monthly = await status("monthly");
    expect(f.date(monthly.windowStart)).toMatch(/ 1, /);
    expect(page.html).toContain(
      `Monthly<br/><span class="hint">${f.date(monthly.windowStart)} – ${f.date(monthly.windowEnd - 1)}</span>`,
    );
    const rolling = await status("rolling");
    expect(page.html).toContain(
      `Rolling 48\u00a0h<br/><span class="hint">since ${f.dateTime(rolling.windowStart)}</span>`,
    );
    expect(page.html).toContain('Lifetime<br/><span class="hint">never resets</span>');
    for (const id of Object.values(ids)) expect((await org.owner.b.get(`/budgets/${id}`)).status).toBe(200);
  });

  it("htmx polls the table: with HX-Request the answer is the table alone", async () => {
    const org = await newOrg("BudgetsHtmx");
    await createBudget(org.owner.b, VALID);
    const full = await org.owner.b.get("/budgets");
    expect(full.html).toContain('<section id="budget-list" hx-get="/budgets" hx-trigger="every 30s"');
    const fragment = await org.owner.b.request("/budgets", { headers: { "hx-request": "true" } });
    expect(fragment.status).toBe(200);
    expect(fragment.html.startsWith('<section id="budget-list"')).toBe(true);
    expect(fragment.html).toContain("Team budget");
    expect(fragment.html).not.toContain("<html");
    expect(fragment.html).not.toContain("<nav");
    expect(fragment.html).not.toContain("<h1>");
  });

  it("deletes after a confirmation page, audited with the person", async () => {
    const org = await newOrg("BudgetsDelete");
    const token = await adminToken(org);
    const { id } = await createBudget(org.owner.b, { ...VALID, name: "Doomed" });
    const confirm = await org.owner.b.get(`/budgets/${id}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Delete the budget “Doomed”?");
    expect(await rules(org.tenantId)).toBe(1);
    const done = await org.owner.b.post(`/budgets/${id}/delete`);
    expect(done.status).toBe(303);
    expect(done.location).toBe("/budgets?deleted=1");
    expect((await org.owner.b.get("/budgets?deleted=1")).html).toContain("The budget was deleted.");
    expect((await api(token, `/budgets/${id}`)).status).toBe(404);
    const audit = await waitForAudit(org.tenantId, "rule.deleted", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
    // Gone: every route of it is a 404 now.
    expect((await org.owner.b.get(`/budgets/${id}`)).status).toBe(404);
    expect((await org.owner.b.post(`/budgets/${id}/delete`)).status).toBe(404);
  });

  it("viewers and members see a budget read-only and cannot change it", async () => {
    const org = await newOrg("BudgetsRead");
    const viewer = await addMember(org, "viewer");
    const member = await addMember(org, "member");
    const { id } = await createBudget(org.owner.b, { ...VALID, name: "Look only" });
    for (const who of [viewer, member]) {
      const list = await who.b.get("/budgets");
      expect(list.html).toContain("Look only");
      expect(list.html).not.toContain('href="/budgets/new"');
      const page = await who.b.get(`/budgets/${id}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain('value="Look only"');
      expect(page.html).toContain('<fieldset class="plain" disabled="">');
      expect(page.html).toContain("owners and admins can change it");
      expect(page.html).not.toContain("Save changes");
      expect(page.html).not.toContain(`/budgets/${id}/delete`);
      const refused = await who.b.post(`/budgets/${id}`, { ...VALID, name: "Changed" });
      expect(refused.status).toBe(403);
      expect(refused.html).toContain("may not do this");
    }
    expect((await org.owner.b.get(`/budgets/${id}`)).html).toContain('value="Look only"');
  });

  it("another organisation's budget is a 404 on every route, and is never shown or changed", async () => {
    const a = await newOrg("BudgetsA");
    const b = await newOrg("BudgetsB");
    const bToken = await adminToken(b);
    const { id } = await createBudget(b.owner.b, { ...VALID, name: "Bravo secret budget" });
    await a.owner.b.get("/budgets");
    const attempts = [
      await a.owner.b.get(`/budgets/${id}`),
      await a.owner.b.post(`/budgets/${id}`, { ...VALID, name: "hijacked" }),
      await a.owner.b.get(`/budgets/${id}/delete`),
      await a.owner.b.post(`/budgets/${id}/delete`),
    ];
    for (const page of attempts) {
      expect(page.status).toBe(404);
      expect(page.html).toContain("No such budget");
      expect(page.html).not.toContain("Bravo secret budget");
    }
    expect((await a.owner.b.get("/budgets")).html).not.toContain("Bravo secret budget");
    const still = (await (await api(bToken, `/budgets/${id}`)).json()) as { name: string };
    expect(still.name).toBe("Bravo secret budget");
    // Ids that cannot be ids, too.
    expect((await a.owner.b.get("/budgets/nope")).status).toBe(404);
  });

  it("needs a session, and the session's CSRF token to post", async () => {
    const org = await newOrg("BudgetsCsrf");
    const anonymous = await worker("/budgets", { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fbudgets");
    const { id } = await createBudget(org.owner.b, { ...VALID, name: "Guarded" });
    for (const path of ["/budgets", `/budgets/${id}`, `/budgets/${id}/delete`]) {
      const forged = await org.owner.b.post(path, { ...VALID, name: "forged", _csrf: "0".repeat(64) });
      expect({ path, status: forged.status }).toEqual({ path, status: 403 });
      const missing = await org.owner.b.post(path, { ...VALID, name: "forged" }, { csrf: false });
      expect({ path, status: missing.status }).toEqual({ path, status: 403 });
    }
    expect(await rules(org.tenantId)).toBe(1);
    const stored = await ledgerFor(env, org.tenantId).getRule({ kind: "budget", id: id ?? "" });
    expect(stored?.spec.name).toBe("Guarded");
  });
});
