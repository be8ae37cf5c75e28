// The cloud page's figures, read through the cloud component's spend operation (never D1): AI
// spend by category per day (ranges up to 62 days) or per month, Bedrock by model and token type,
// GPU instances by type and account; credits, refunds and tax summed apart, never into the AI
// spend; every amount per currency. Days are UTC, as the bill's sums are.
import { AppError } from "../../shared/errors.ts";
import { DAY_MS, isoDay } from "../../shared/time.ts";
import { cloudSpend, type CloudCaller } from "../cloud/index.ts";
import { currencyFormat, nanoOf } from "../../web/components/currency.ts";
import type { Bar, TimePoint } from "../../web/components/chart.tsx";
import type { CategorySeries, CurrencyFigures, RangeView } from "../../web/pages/cloud.tsx";

/** The AI categories, in the order the page shows them. */
export const AI_CATEGORIES = [
  ["bedrock", "Amazon Bedrock"],
  ["sagemaker", "SageMaker"],
  ["gpu_compute", "GPU instances"],
  ["other_ai", "Other AI services"],
] as const;
/** Charge types that count as spend; credits, refunds and tax are shown apart. */
export const SPEND_CHARGES = ["usage", "fee", "commitment", "discount", "other"] as const;
const CREDIT_CHARGES = new Set(["credit", "refund"]);
const BY_DAY_MAX = 62;
const MAX_DAYS = 1_100;
const TOP_BARS = 20;

const PRESETS = {
  this_month: "This month",
  last_month: "Last month",
  "30d": "30 days",
  "90d": "90 days",
  "365d": "12 months",
} as const;
type Preset = keyof typeof PRESETS;
const DEFAULT_PRESET: Preset = "90d";

export type CloudRange = { first: number; last: number; preset: Preset | null; error: string | null };

function parseDay(text: string | undefined): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? "");
  if (!m) return null;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return isoDay(day) === text ? day : null;
}

function presetDays(preset: Preset, today: number): { first: number; last: number } {
  const d = new Date(today);
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  switch (preset) {
    case "this_month":
      return { first: monthStart, last: today };
    case "last_month":
      return { first: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1), last: monthStart - DAY_MS };
    case "30d":
      return { first: today - 29 * DAY_MS, last: today };
    case "90d":
      return { first: today - 89 * DAY_MS, last: today };
    case "365d":
      return { first: today - 364 * DAY_MS, last: today };
  }
}

/** The range asked for (`range` preset, or `from` and `to` UTC days), else the default. */
export function cloudRange(query: Record<string, string>, now: number): CloudRange {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const fallback = (error: string | null): CloudRange => ({
    ...presetDays(DEFAULT_PRESET, today),
    preset: DEFAULT_PRESET,
    error,
  });
  if (query.from !== undefined || query.to !== undefined) {
    const first = parseDay(query.from);
    const last = parseDay(query.to);
    if (first === null || last === null) return fallback("Give the first and last day as dates (YYYY-MM-DD).");
    if (last < first) return fallback("The last day must not be before the first.");
    if ((last - first) / DAY_MS + 1 > MAX_DAYS) return fallback(`A range covers at most ${MAX_DAYS} days.`);
    return { first, last, preset: null, error: null };
  }
  const preset = query.range;
  if (preset !== undefined && Object.hasOwn(PRESETS, preset)) {
    return { ...presetDays(preset as Preset, today), preset: preset as Preset, error: null };
  }
  return fallback(preset === undefined ? null : "Pick one of the ranges above.");
}

/** The periods of the range: each day, or each month ("YYYY-MM"). */
function periods(r: CloudRange, byMonth: boolean): string[] {
  const out: string[] = [];
  if (!byMonth) {
    for (let day = r.first; day <= r.last; day += DAY_MS) out.push(isoDay(day));
    return out;
  }
  const d = new Date(r.first);
  for (let y = d.getUTCFullYear(), m = d.getUTCMonth(); Date.UTC(y, m, 1) <= r.last; m++) {
    out.push(new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7));
  }
  return out;
}

type Row = Record<string, string | number | null>;

async function spend(who: CloudCaller, r: CloudRange, query: Record<string, string>): Promise<Row[]> {
  const answer = await cloudSpend(who, { from: isoDay(r.first), to: isoDay(r.last), ...query });
  if (answer instanceof AppError) throw new Error(`cloud spend: ${answer.message}`);
  return answer.data;
}

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? "" : String(v));

function sum(rows: Row[], keep: (r: Row) => boolean): bigint {
  return rows.filter(keep).reduce((total, r) => total + nanoOf(str(r.cost)), 0n);
}

export async function cloudFigures(
  who: CloudCaller,
  r: CloudRange,
  locale: string,
): Promise<{ range: RangeView; currencies: CurrencyFigures[] }> {
  const days = (r.last - r.first) / DAY_MS + 1;
  const byMonth = days > BY_DAY_MAX;
  const time = byMonth ? "month" : "day";
  const charges = SPEND_CHARGES.join(",");
  const [byCategory, models, gpu] = await Promise.all([
    spend(who, r, {
      group_by: `category,charge_type,${time}`,
      category: AI_CATEGORIES.map(([c]) => c).join(","),
    }),
    spend(who, r, { group_by: "model,token_type", category: "bedrock", charge_type: charges }),
    spend(who, r, { group_by: "instance_type,account", category: "gpu_compute", charge_type: charges }),
  ]);
  const dates = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" });
  const label = `${dates.format(r.first)} to ${dates.format(r.last)}`;
  const range: RangeView = {
    from: isoDay(r.first),
    to: isoDay(r.last),
    label: r.preset ? `${PRESETS[r.preset].toLowerCase()} (${label})` : label,
    byMonth,
    error: r.error,
    presets: Object.entries(PRESETS).map(([key, text]) => ({
      href: `/cloud?range=${key}`,
      label: text,
      current: r.preset === key,
    })),
  };
  const currencies = [...new Set(byCategory.map((row) => str(row.currency)))].sort();
  return {
    range,
    currencies: currencies.map((cur) =>
      currencyFigures(cur, locale, byMonth, periods(r, byMonth), { byCategory, models, gpu }),
    ),
  };
}

function pointLabels(locale: string, byMonth: boolean) {
  const long = new Intl.DateTimeFormat(
    locale,
    byMonth ? { month: "long", year: "numeric", timeZone: "UTC" } : { dateStyle: "medium", timeZone: "UTC" },
  );
  const short = new Intl.DateTimeFormat(
    locale,
    byMonth
      ? { month: "short", year: "2-digit", timeZone: "UTC" }
      : { month: "short", day: "numeric", timeZone: "UTC" },
  );
  return (period: string) => {
    const at = Date.parse(byMonth ? `${period}-01T00:00:00Z` : `${period}T00:00:00Z`);
    return { label: long.format(at), short: short.format(at) };
  };
}

const isSpend = (r: Row) => (SPEND_CHARGES as readonly string[]).includes(str(r.charge_type));

function currencyFigures(
  currency: string,
  locale: string,
  byMonth: boolean,
  slots: string[],
  rows: { byCategory: Row[]; models: Row[]; gpu: Row[] },
): CurrencyFigures {
  const format = currencyFormat(locale, currency);
  const counts = new Intl.NumberFormat(locale, { maximumFractionDigits: 6 });
  const mine = (list: Row[]) => list.filter((row) => row.currency === currency);
  const cat = mine(rows.byCategory);
  const time = byMonth ? "month" : "day";
  const labelOf = pointLabels(locale, byMonth);
  const series: CategorySeries[] = [];
  for (const [category, name] of AI_CATEGORIES) {
    const spent = cat.filter((row) => row.category === category && isSpend(row));
    if (spent.length === 0) continue;
    const perSlot = new Map<string, bigint>();
    for (const row of spent) perSlot.set(str(row[time]), (perSlot.get(str(row[time])) ?? 0n) + nanoOf(str(row.cost)));
    const points: TimePoint[] = slots.map((slot) => ({ ...labelOf(slot), value: perSlot.get(slot) ?? 0n }));
    series.push({ category, label: name, total: format(sum(spent, () => true)), points });
  }
  const byCost = (a: Row, b: Row) => {
    const d = nanoOf(str(b.cost)) - nanoOf(str(a.cost));
    return d > 0n ? 1 : d < 0n ? -1 : 0;
  };
  const models = mine(rows.models).sort(byCost).slice(0, TOP_BARS);
  const gpu = mine(rows.gpu).sort(byCost).slice(0, TOP_BARS);
  const usage = (row: Row) =>
    row.usage_amount === null
      ? "—"
      : `${counts.format(str(row.usage_amount) as Intl.StringNumericLiteral)} ${str(row.usage_unit)}`;
  const tokenType = (row: Row) => str(row.token_type).replace("_", " ") || "—";
  return {
    currency,
    format,
    aiTotal: format(sum(cat, isSpend)),
    credits: format(sum(cat, (row) => CREDIT_CHARGES.has(str(row.charge_type)))),
    tax: format(sum(cat, (row) => row.charge_type === "tax")),
    series,
    models: models.map((row) => ({
      model: str(row.model) || "(no model named)",
      tokenType: tokenType(row),
      cost: format(nanoOf(str(row.cost))),
      usage: usage(row),
    })),
    modelBars: models.map((row) => ({
      label: `${str(row.model) || "(no model named)"} · ${tokenType(row)}`,
      value: nanoOf(str(row.cost)),
    })) satisfies Bar[],
    gpu: gpu.map((row) => ({
      instanceType: str(row.instance_type) || "(not named)",
      account: str(row.account) || "—",
      cost: format(nanoOf(str(row.cost))),
    })),
    gpuBars: gpu.map((row) => ({
      label: `${str(row.instance_type) || "(not named)"} · ${str(row.account) || "—"}`,
      value: nanoOf(str(row.cost)),
    })),
  };
}

/** This calendar month's AI spend (UTC days) per currency: AI categories, spend charges only. */
export async function cloudMonthSpend(
  who: CloudCaller,
  locale: string,
  now: number,
): Promise<{ currency: string; amount: string }[]> {
  const d = new Date(now);
  const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const last = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - DAY_MS;
  const rows = await spend(
    who,
    { first, last, preset: "this_month", error: null },
    {
      group_by: "charge_type",
      category: AI_CATEGORIES.map(([c]) => c).join(","),
      charge_type: SPEND_CHARGES.join(","),
    },
  );
  const currencies = [...new Set(rows.map((row) => str(row.currency)))].sort();
  return currencies.map((currency) => ({
    currency,
    amount: currencyFormat(locale, currency)(sum(rows, (row) => row.currency === currency)),
  }));
}
