// / (the overview): spend today, this week and this month against budgets, a 30-day trend, top models, providers, keys and dimension values, unpriced models, recent refusals.
// GET /usage/summary is the spend figures alone (the overview polls it every 30 s with htmx; it
// lives under /usage because only the paths of PAGE_PATHS get a session). Usage comes from the
// daily and hourly rollups, budgets from the tenant's ledger, refusals from the audit index in D1.
import { Hono, type Context } from "hono";
import {
  countProviderCredentials,
  hasRollups,
  listKeyNames,
  listRuleNames,
  queryRollups,
  recentRefusals,
  tenantDb,
  type TenantDb,
  topDimensionValues,
  totalRollups,
} from "../../store/index.ts";
import type { UsageGroup, UsageRow } from "../../../shared/usage-query.ts";
import { hoursOf, localDate } from "../../../shared/zoned-time.ts";
import { windowRange, type BudgetWindow } from "../../../shared/windows.ts";
import { ledgerFor } from "../../ledger/index.ts";
import { DAY_MS, HOUR_MS } from "../../../shared/time.ts";
import { requireAccount, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import type { BudgetStatus } from "../../ledger/index.ts";
import { type Format } from "../../../web/format.ts";
import { orgFormat } from "../org-format.ts";
import {
  OverviewPage,
  SpendSummary,
  type BudgetLine,
  type OverviewView,
  type SpendView,
  type TopRow,
} from "../../../web/pages/overview.tsx";
import { wantsFragment } from "../htmx.ts";
import { cloudMonthSpend } from "../cloud-figures.ts";

export const overviewPages = new Hono<WebEnv>();
overviewPages.use("/", requireAccount, requirePermission("read"));
overviewPages.use("/usage/summary", requireAccount, requirePermission("read"));

/** Budgets listed as "nearest their limit" besides those of the three figures. */
const NEAREST = 6;
const TOP = 5;

type KeyInfo = { id: string; name: string; prefix: string };

const up = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;

function windowLabel(w: BudgetWindow): string {
  return w.kind === "rolling" ? `rolling ${w.hours} h` : w.kind;
}

function isTenantWide(b: BudgetStatus): boolean {
  const s = b.spec.scope;
  return !s.keyId && !s.provider && !s.model && Object.keys(s.dimensions ?? {}).length === 0;
}

function scopeLabel(b: BudgetStatus, keys: Map<string, KeyInfo>): string {
  const s = b.spec.scope;
  const parts: string[] = [];
  if (s.keyId) parts.push(`key “${keys.get(s.keyId)?.name ?? s.keyId}”`);
  if (s.provider) parts.push(`provider ${s.provider}`);
  if (s.model) parts.push(`model ${s.model}`);
  for (const [name, value] of Object.entries(s.dimensions ?? {})) parts.push(`${name}=${value}`);
  return parts.length > 0 ? parts.join(", ") : "whole organisation";
}

function budgetLine(b: BudgetStatus, keys: Map<string, KeyInfo>): BudgetLine {
  const limit = BigInt(b.spec.limitNano);
  return {
    id: b.id,
    name: b.spec.name,
    scope: scopeLabel(b, keys),
    window: windowLabel(b.spec.window),
    spentNano: b.spentNano,
    heldNano: b.heldNano,
    limitNano: limit,
    over: b.spentNano >= limit,
    alert: b.spec.mode === "alert",
  };
}

/** spent/limit, highest first, without dividing (a zero limit counts as fully used). */
function byUse(a: BudgetStatus, b: BudgetStatus): number {
  const la = BigInt(a.spec.limitNano);
  const lb = BigInt(b.spec.limitNano);
  const left = a.spentNano * (lb > 0n ? lb : 1n);
  const right = b.spentNano * (la > 0n ? la : 1n);
  return left > right ? -1 : left < right ? 1 : 0;
}

async function keysOf(db: TenantDb): Promise<Map<string, KeyInfo>> {
  const rows = await listKeyNames(db);
  return new Map(rows.map((k) => [k.id, k]));
}

async function spendView(
  c: Context<WebEnv>,
  db: TenantDb,
  f: Format,
  keys: Map<string, KeyInfo>,
  now: number,
): Promise<SpendView> {
  const { org } = signedInOrg(c);
  const statuses = await ledgerFor(c.env, org.tenantId).budgetStatuses();
  const since = new Intl.DateTimeFormat(f.locale, {
    weekday: "short",
    month: "short",
    day: "numeric",
    timeZone: f.timeZone,
  });
  const windows = [
    { kind: "daily", label: "Today" },
    { kind: "weekly", label: "This week" },
    { kind: "monthly", label: "This month" },
  ] as const;
  const shown = new Set<string>();
  const figures = await Promise.all(
    windows.map(async (w) => {
      const range = windowRange({ kind: w.kind }, f.timeZone, now);
      const sums = await totalRollups(db, { from: up(range.start), to: up(range.end) });
      const budgets = statuses.filter((b) => isTenantWide(b) && b.spec.window.kind === w.kind);
      for (const b of budgets) shown.add(b.id);
      return {
        label: w.label,
        since: `since ${since.format(range.start)}`,
        cost: f.usd(sums.costNano),
        requests: `${f.count(sums.requests)} ${sums.requests === 1 ? "request" : "requests"}`,
        budgets: budgets.map((b) => budgetLine(b, keys)),
      };
    }),
  );
  const nearest = statuses
    .filter((b) => !shown.has(b.id))
    .sort(byUse)
    .slice(0, NEAREST)
    .map((b) => budgetLine(b, keys));
  return { figures, nearest, budgetCount: statuses.length, updated: f.dateTime(now), format: f };
}

function explore(params: Record<string, string>): string {
  return `/usage?${new URLSearchParams({ range: "30d", ...params }).toString()}`;
}

async function overviewView(c: Context<WebEnv>): Promise<OverviewView> {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const now = Date.now();
  const [f, keys] = await Promise.all([orgFormat(c), keysOf(db)]);
  const today = localDate(f.timeZone, now);
  const first = today - 29 * DAY_MS;
  const { from, to } = hoursOf(f.timeZone, first, today);
  const top = (groups: UsageGroup[], extra: { unpricedOnly?: boolean; limit?: number } = {}) =>
    queryRollups(db, { from, to, groups, limit: extra.limit ?? TOP, unpricedOnly: extra.unpricedOnly });
  const cloudCaller = {
    env: c.env,
    tenantId: org.tenantId,
    actor: { kind: "user", id: signedInOrg(c).a.user.id },
  } as const;
  const [spend, trend, models, providers, topKeys, dims, unpriced, refusals, anyUsage, providerCount, cloud] =
    await Promise.all([
      spendView(c, db, f, keys, now),
      queryRollups(db, { from, to, groups: [{ kind: "day" }], timeZone: f.timeZone, order: "time" }),
      top([{ kind: "model" }]),
      top([{ kind: "provider" }]),
      top([{ kind: "key" }]),
      topDimensionValues(db, from, to, TOP),
      top([{ kind: "provider" }, { kind: "model" }], { unpricedOnly: true, limit: 20 }),
      recentRefusals(db, 10),
      hasRollups(db),
      countProviderCredentials(db),
      cloudMonthSpend(cloudCaller, f.locale, now),
    ]);
  const rules = new Map(
    (
      await listRuleNames(
        db,
        refusals.flatMap((r) => (r.subject ? [r.subject] : [])),
      )
    ).map((r) => [r.id, r.name]),
  );

  const dayFormat = new Intl.DateTimeFormat(f.locale, { dateStyle: "medium", timeZone: "UTC" });
  const shortDay = new Intl.DateTimeFormat(f.locale, { month: "short", day: "numeric", timeZone: "UTC" });
  const byDay = new Map(trend.map((r) => [Number(r.values[0]), r]));
  const days: number[] = [];
  for (let d = first; d <= today; d += DAY_MS) days.push(d);
  const value = (r: UsageRow | undefined) => r?.costNano ?? 0n;
  const total = trend.reduce((s, r) => s + r.costNano, 0n);

  const row = (r: UsageRow, label: string, href: string, code?: string): TopRow => ({
    label,
    code,
    href,
    cost: f.usd(r.costNano),
    requests: f.count(r.requests),
  });
  return {
    orgName: org.name,
    spend,
    cloud,
    empty: anyUsage ? null : { hasKey: keys.size > 0, hasProvider: providerCount > 0 },
    trend: {
      title: `Spend per day, ${dayFormat.format(first)} – ${dayFormat.format(today)}`,
      desc: `Cost of each of the last 30 days in ${f.timeZone}, ${f.usd(total)} in all; the data table lists the same numbers.`,
      total: f.usd(total),
      points: days.map((d) => ({ label: dayFormat.format(d), short: shortDay.format(d), value: value(byDay.get(d)) })),
      rows: days.map((d) => ({
        date: dayFormat.format(d),
        cost: f.usd(value(byDay.get(d))),
        requests: f.count(byDay.get(d)?.requests ?? 0),
      })),
    },
    top: {
      models: models.map((r) => row(r, String(r.values[0]), explore({ model: String(r.values[0]), group: "day" }))),
      providers: providers.map((r) =>
        row(r, String(r.values[0]), explore({ provider: String(r.values[0]), group: "model" })),
      ),
      keys: topKeys.map((r) => {
        const id = String(r.values[0]);
        const key = keys.get(id);
        return row(r, key?.name ?? id, explore({ key: id, group: "day" }), key ? `${key.prefix}…` : undefined);
      }),
      dims: dims.map((d) => ({
        label: `${d.name} = ${d.value}`,
        href: explore({ dim: d.name, dim_value: d.value, group: "day" }),
        cost: f.usd(d.costNano),
        requests: f.count(d.requests),
      })),
    },
    unpriced: unpriced.map((r) => ({
      provider: String(r.values[0]),
      model: String(r.values[1]),
      requests: `${f.count(r.unpricedRequests)} unpriced ${r.unpricedRequests === 1 ? "request" : "requests"}`,
      href: explore({ provider: String(r.values[0]), model: String(r.values[1]), group: "day" }),
    })),
    refusals: refusals.map((r) => {
      const data = r.data;
      const key = r.actor_id ? keys.get(r.actor_id) : undefined;
      return {
        at: f.dateTime(r.at),
        key: key?.name ?? r.actor_id ?? "unknown key",
        keyPrefix: key ? `${key.prefix}…` : undefined,
        call: [data.provider, data.model].filter(Boolean).join(" · ") || "—",
        code: data.code ?? "refused",
        rule: r.subject ? (rules.get(r.subject) ?? null) : null,
        reason: data.reason ?? null,
      };
    }),
    format: (nano: bigint) => f.usd(nano),
  };
}

overviewPages.get("/", async (c) => c.render(<OverviewPage view={await overviewView(c)} />, { title: "Overview" }));

overviewPages.get("/usage/summary", async (c) => {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [f, keys] = await Promise.all([orgFormat(c), keysOf(db)]);
  const spend = await spendView(c, db, f, keys, Date.now());
  if (wantsFragment(c)) return c.html(<SpendSummary spend={spend} />);
  return c.render(
    <>
      <h1>Spend now</h1>
      <SpendSummary spend={spend} />
      <p>
        <a href="/">Back to the overview</a>
      </p>
    </>,
    { title: "Spend now" },
  );
});
