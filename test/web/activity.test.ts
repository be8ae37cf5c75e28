// /activity: route tests in workerd — refusals appear after real refused calls through the gateway
// (a denying policy, a tiny budget, a rate limit), named by key, rule and provider; filters
// (category, refusal code, key, days in the organisation's zone) with messages beside the fields;
// paging by seq; the htmx fragment; every role reads; another organisation's events never show.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditDraft } from "../../shared/audit.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { addMember, api, createToken, newOrg, type Org, type Person } from "../auth/orgs.ts";
import { auditRowsOf, worker } from "../helpers.ts";

type Made = { id: string; key: string; prefix: string };

async function json<T>(res: Response): Promise<T> {
  if (res.status >= 300) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function chat(key: string, body: Record<string, unknown> = {}) {
  const res = await worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], ...body }),
  });
  await res.text();
  return res;
}

function must(res: Response, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status}, expected ${status}`);
}

async function auditCount(tenantId: string, type: string): Promise<number> {
  return (await auditRowsOf(tenantId)).filter((r) => r.type === type).length;
}

/** Waits until D1 holds at least `n` events of `type` (ledger → queue → consumer). */
async function waitForCount(tenantId: string, type: string, n: number, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while ((await auditCount(tenantId, type)) < n) {
    if (Date.now() > until) throw new Error(`fewer than ${n} ${type} events for ${tenantId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows of the activity table (the text of each <tr> in <tbody>). */
function rows(html: string): string[] {
  const body = /<tbody>(.*?)<\/tbody>/s.exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => m[1] ?? "");
}

function fieldError(html: string, field: string): string {
  const text = new RegExp(`id="${field}-error"[^>]*>([^<]+)<`).exec(html)?.[1] ?? "";
  return text.replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
}

/** Today in a time zone, as YYYY-MM-DD. */
function today(timeZone: string, offsetDays = 0): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    Date.now() + offsetDays * 86_400_000,
  );
}

describe("/activity", () => {
  let org: Org;
  let token: string;
  let denied: Made;
  let broke: Made;
  let limited: Made;
  const ids = { policy: "", budget: "", rate: "" };

  beforeAll(async () => {
    org = await newOrg("Activity");
    token = (await createToken(org.owner.b, "admin", "activity setup")).token;
    const provider = await api(token, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    must(provider, 200, "provider");
    const key = async (name: string) => json<Made>(await api(token, "/keys", { method: "POST", json: { name } }));
    denied = await key("denied app");
    broke = await key("broke app");
    limited = await key("limited app");
    const rule = async (path: string, body: Record<string, unknown>) =>
      (await json<{ id: string }>(await api(token, path, { method: "POST", json: body }))).id;
    ids.policy = await rule("/policies", { name: "no gpt-4o", key_id: denied.id, deny_models: ["gpt-4o*"] });
    ids.budget = await rule("/budgets", {
      name: "tiny daily",
      scope: { key_id: broke.id },
      window: "daily",
      limit_usd: "0.000001",
    });
    ids.rate = await rule("/rate-limits", { name: "one a minute", key_id: limited.id, requests_per_minute: 1 });

    // Setup fails loudly (beforeAll holds no expectations): each call is answered as its rule says.
    must(await chat(denied.key), 403, "the policy's refusal");
    must(await chat(broke.key, { max_tokens: 1000 }), 402, "the budget's refusal");
    must(await chat(limited.key), 200, "the first call under the rate limit");
    must(await chat(limited.key), 429, "the rate limit's refusal");
    await waitForCount(org.tenantId, "call.refused", 3);
    await waitForCount(org.tenantId, "call.admitted", 1);
  }, 60_000);

  it("shows refusals after real refused calls: code, key, rule linked to its page, provider and model", async () => {
    const page = await org.owner.b.get("/activity");
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Activity</h1>");
    const table = rows(page.html);
    expect(table).toHaveLength(3);
    // Newest first: the rate limit, the budget, the policy.
    expect(table[0]).toContain("Refused: rate limited");
    expect(table[0]).toContain(`<a href="/rate-limits/${ids.rate}">Rate limit “one a minute”</a>`);
    expect(table[0]).toContain(`limited app <code>${limited.prefix}…</code>`);
    expect(table[1]).toContain("Refused: budget exceeded");
    expect(table[1]).toContain(`<a href="/budgets/${ids.budget}">Budget “tiny daily”</a>`);
    expect(table[2]).toContain("Refused: policy denied");
    expect(table[2]).toContain(`<a href="/policies/${ids.policy}">Policy “no gpt-4o”</a>`);
    expect(table[2]).toContain("openai · gpt-4o-mini");
    expect(table[2]).toContain(`denied app <code>${denied.prefix}…</code>`);
    for (const row of table) expect(row).toContain('<span class="badge danger">Refused: ');
    // Admitted calls and changes are other categories.
    expect(table.join("")).not.toContain("Admitted");
    expect(table.join("")).not.toContain("Key created");
    expect(page.html).not.toContain('href="/activity?');
    const times = /<td class="nowrap">([^<]+)<\/td>/.exec(page.html)?.[1] ?? "";
    expect(times).toMatch(/\d{1,2}:\d{2}:\d{2}/);
  });

  it("filters by refusal code and by key", async () => {
    const budget = rows((await org.owner.b.get("/activity?code=budget_exceeded")).html);
    expect(budget).toHaveLength(1);
    expect(budget[0]).toContain("tiny daily");
    const byKey = await org.owner.b.get(`/activity?key=${denied.id}`);
    const only = rows(byKey.html);
    expect(only).toHaveLength(1);
    expect(only[0]).toContain("Refused: policy denied");
    expect(byKey.html).toContain(`<option value="${denied.id}" selected="">denied app (${denied.prefix}…)</option>`);
    const none = await org.owner.b.get(`/activity?key=${denied.id}&code=rate_limited`);
    expect(rows(none.html)).toHaveLength(0);
    expect(none.html).toContain("Nothing matches these filters");
  });

  it("shows admitted calls and all changes, with the acting person's email or token", async () => {
    const calls = rows((await org.owner.b.get("/activity?category=calls")).html);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain('<span class="badge ok">Admitted</span>');
    expect(calls[0]).toContain("limited app");
    expect(calls[0]).toContain("openai · gpt-4o-mini");

    // A change by a person on the dashboard.
    await org.owner.b.get("/providers");
    const saved = await org.owner.b.post("/providers", {
      provider: "anthropic",
      api_key: "sk-ant-activity-credential-000000",
      base_url: `${env.UPSTREAM_URL}/anthropic/v1`,
    });
    expect(saved.status).toBe(303);
    const until = Date.now() + 10_000;
    let changes: string[] = [];
    while (Date.now() < until) {
      changes = rows((await org.owner.b.get("/activity?category=changes")).html);
      if (changes.some((r) => r.includes("Provider credential saved") && r.includes("anthropic"))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const provider = changes.find((r) => r.includes("Provider credential saved") && r.includes("anthropic")) ?? "";
    expect(provider).toContain(org.owner.email);
    expect(provider).toContain('<a href="/providers">anthropic</a>');
    expect(provider).toContain("key sk-…0000");
    expect(provider).not.toContain("activity-credential");
    const created = changes.find((r) => r.includes("Key created") && r.includes("denied app")) ?? "";
    expect(created).toContain("API token “activity setup”");
    expect(changes.some((r) => r.includes("Policy created") && r.includes(`/policies/${ids.policy}`))).toBe(true);
    expect(changes.some((r) => r.includes("Budget created") && r.includes(`/budgets/${ids.budget}`))).toBe(true);
    expect(changes.some((r) => r.includes("Signed in") && r.includes(org.owner.email))).toBe(true);
    expect(changes.join("")).not.toContain("Refused");
  });

  it("filters by days in the organisation's time zone", async () => {
    const { timeZone } = await ledgerFor(env, org.tenantId).getSettings();
    const day = today(timeZone);
    expect(rows((await org.owner.b.get(`/activity?from=${day}&to=${day}`)).html)).toHaveLength(3);
    expect(rows((await org.owner.b.get(`/activity?to=${today(timeZone, -2)}`)).html)).toHaveLength(0);
    const later = await org.owner.b.get(`/activity?from=${today(timeZone, 2)}`);
    expect(rows(later.html)).toHaveLength(0);
    expect(later.html).toContain("Nothing matches these filters");
    expect(later.html).toContain(`Times in ${timeZone}`);
  });

  it("says what is wrong with a filter beside it (400)", async () => {
    const cases: [string, string, string][] = [
      ["category=everything", "category", "Choose what to show"],
      ["code=teapot", "code", "Choose a refusal code"],
      ["key=aaaaaaaaaaaa", "key", "Choose one of this organisation's keys"],
      ["key=%3Cscript%3E", "key", "Choose one of this organisation's keys"],
      ["from=2024-13-01", "from", "Pick a date"],
      ["from=yesterday", "from", "Pick a date"],
      ["to=2024-02-30", "to", "Pick a date"],
      ["from=2024-05-02&to=2024-05-01", "to", "must not be before"],
      ["before=abc", "before", "does not exist"],
      ["before=0", "before", "does not exist"],
    ];
    for (const [query, field, text] of cases) {
      const page = await org.owner.b.get(`/activity?${query}`);
      expect({ query, status: page.status }).toEqual({ query, status: 400 });
      expect(fieldError(page.html, field)).toContain(text);
      expect(rows(page.html)).toHaveLength(0);
      expect(page.html).not.toContain("<script>");
    }
  });

  it("answers htmx with the filters and table only", async () => {
    const page = await org.owner.b.request("/activity?code=policy_denied", { headers: { "hx-request": "true" } });
    expect(page.status).toBe(200);
    expect(page.html.startsWith('<div id="activity">')).toBe(true);
    expect(page.html).not.toContain("<html");
    expect(page.html).not.toContain('<nav aria-label="Main"');
    expect(rows(page.html)).toHaveLength(1);
    expect(page.html).toContain('hx-push-url="true"');
    expect(page.headers.get("hx-push-url")).toBe("/activity?category=decisions&code=policy_denied");
    const bad = await org.owner.b.request("/activity?from=nope", { headers: { "hx-request": "true" } });
    expect(bad.status).toBe(400);
    expect(bad.html.startsWith('<div id="activity">')).toBe(true);
    expect(fieldError(bad.html, "from")).toContain("Pick a date");
  });

  it("every role reads it", async () => {
    for (const role of ["admin", "member", "viewer"] as const) {
      const who: Person = await addMember(org, role);
      const page = await who.b.get("/activity");
      expect({ role, status: page.status }).toEqual({ role, status: 200 });
      expect(rows(page.html)).toHaveLength(3);
    }
  });
});

describe("/activity paging and isolation", () => {
  it("pages 50 at a time, newest first, by seq", async () => {
    const org = await newOrg("ActivityPages");
    const now = Date.now();
    const drafts: AuditDraft[] = Array.from({ length: 63 }, (_, i) => ({
      at: now - (63 - i) * 1000,
      type: "call.refused",
      actor: { kind: "key", id: "aaaaaaaaaaaa" },
      requestId: `req_page_${String(i).padStart(3, "0")}`,
      subject: null,
      data: { code: "invalid_api_key", reason: "unknown", provider: "openai", model: "gpt-4o-mini" },
    }));
    await ledgerFor(env, org.tenantId).recordAudit({ tenantId: org.tenantId, drafts });
    await waitForCount(org.tenantId, "call.refused", 63);

    const first = await org.owner.b.get("/activity");
    const firstRows = rows(first.html);
    expect(firstRows).toHaveLength(50);
    expect(firstRows[0]).toContain("req_page_062");
    expect(firstRows[49]).toContain("req_page_013");
    expect(firstRows[0]).toContain("unknown key <code>aaaaaaaaaaaa</code>");
    expect(firstRows[0]).toContain("key unknown");
    const older = /href="(\/activity\?[^"]*before=\d+)"/.exec(first.html)?.[1]?.replaceAll("&amp;", "&") ?? "";
    expect(older).toMatch(/^\/activity\?category=decisions&before=\d+$/);
    expect(first.html).not.toContain(">Newest<");

    const second = await org.owner.b.get(older);
    const secondRows = rows(second.html);
    expect(secondRows).toHaveLength(13);
    expect(secondRows[0]).toContain("req_page_012");
    expect(secondRows[12]).toContain("req_page_000");
    expect(second.html).toContain(">Newest<");
    expect(second.html).not.toContain(">Older<");
  });

  it("cuts days at the organisation's midnight, even 14 hours ahead of UTC", async () => {
    const org = await newOrg("ActivityZone");
    const ledger = ledgerFor(env, org.tenantId);
    await ledger.setSettings({
      tenantId: org.tenantId,
      change: { timeZone: "Pacific/Kiritimati" },
      actor: { kind: "user", id: org.owner.userId },
    });
    const draft = (at: string, requestId: string): AuditDraft => ({
      at: Date.parse(at),
      type: "call.refused",
      actor: { kind: "key", id: "aaaaaaaaaaaa" },
      requestId,
      subject: null,
      data: { code: "invalid_api_key", reason: "revoked", provider: "openai", model: "gpt-4o-mini" },
    });
    // 23:59:59 on 10 March and 00:00:00 on 11 March, Kiritimati time (UTC+14).
    await ledger.recordAudit({
      tenantId: org.tenantId,
      drafts: [
        draft("2025-03-10T09:59:59Z", "req_zone_late_tenth"),
        draft("2025-03-10T10:00:00Z", "req_zone_eleventh"),
      ],
    });
    await waitForCount(org.tenantId, "call.refused", 2);
    const tenth = rows((await org.owner.b.get("/activity?from=2025-03-10&to=2025-03-10")).html);
    expect(tenth).toHaveLength(1);
    expect(tenth[0]).toContain("req_zone_late_tenth");
    expect(tenth[0]).toContain("Mar 10, 2025, 11:59:59 PM");
    const eleventh = rows((await org.owner.b.get("/activity?from=2025-03-11")).html);
    expect(eleventh).toHaveLength(1);
    expect(eleventh[0]).toContain("req_zone_eleventh");
    expect(rows((await org.owner.b.get("/activity?from=2025-03-10&to=2025-03-11")).html)).toHaveLength(2);
  });

  it("never shows another organisation's events, keys or people, even with its key id as a filter", async () => {
    const a = await newOrg("ActivityA");
    const b = await newOrg("ActivityB");
    const bToken = (await createToken(b.owner.b, "admin", "bravo token")).token;
    await api(bToken, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    const bKey = await json<Made>(await api(bToken, "/keys", { method: "POST", json: { name: "bravo secret app" } }));
    await api(bToken, "/policies", {
      method: "POST",
      json: { name: "bravo policy", key_id: bKey.id, deny_models: ["*"] },
    });
    expect((await chat(bKey.key)).status).toBe(403);
    await waitForCount(b.tenantId, "call.refused", 1);
    expect(rows((await b.owner.b.get("/activity")).html)).toHaveLength(1);

    for (const path of ["/activity", "/activity?category=changes", "/activity?category=calls"]) {
      const page = await a.owner.b.get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 200 });
      const leaked = ["bravo secret app", "bravo policy", "bravo token", bKey.id, bKey.prefix, b.owner.email].filter(
        (t) => page.html.includes(t),
      );
      expect({ path, leaked }).toEqual({ path, leaked: [] });
    }
    const filtered = await a.owner.b.get(`/activity?key=${bKey.id}`);
    expect(filtered.status).toBe(400);
    expect(fieldError(filtered.html, "key")).toContain("Choose one of this organisation's keys");
    expect(filtered.html).not.toContain("bravo");
    expect(rows(filtered.html)).toHaveLength(0);
  });

  it("explains itself when nothing has happened yet, and needs a session", async () => {
    const org = await newOrg("ActivityEmpty");
    const page = await org.owner.b.get("/activity");
    expect(page.status).toBe(200);
    expect(page.html).toContain("No refusals or budget decisions yet");
    const calls = await org.owner.b.get("/activity?category=calls");
    expect(calls.html).toContain("No admitted calls yet");
    const anonymous = await worker("/activity", { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Factivity");
  });
});
