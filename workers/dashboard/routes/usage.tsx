// /usage (the usage explorer): a time range, grouping and filters over the usage rollups; a table, a chart and CSV of what is shown.
// GET /usage answers the page, or for htmx (HX-Request) the results section alone (the whole
// explorer when the request targets it or the form has errors); GET /usage/export answers the
// same rows as CSV. Everything is read from the daily and hourly rollups, never from raw events.
import { wantsFragment } from "../htmx.ts";
import { Hono, type Context } from "hono";
import { dimensionNames, listKeyChoices, tenantDb } from "../../store/index.ts";
import {
  groupName,
  parseGroupName,
  rollupProblem,
  type UsageFilters,
  type UsageGroup,
} from "../../../shared/usage-query.ts";
import { localDate } from "../../../shared/zoned-time.ts";
import { DIMENSION_NAME, MAX_DIMENSION_VALUE } from "../../../shared/dimensions.ts";
import { requireAccount, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { orgFormat } from "../org-format.ts";
import {
  UsageExplorer,
  UsagePage,
  UsageResults,
  type ExplorerView,
  type ResultView,
  type UsageForm,
} from "../../../web/pages/usage.tsx";
import {
  ROW_CAP,
  answer,
  chartOf,
  dateFormats,
  formatted,
  header,
  isoDate,
  toCsv,
  type Answer,
  type KeyOption,
  type Plan,
} from "../usage-report.ts";
import { DAY_MS } from "../../../shared/time.ts";

export const usagePages = new Hono<WebEnv>();
usagePages.use("/usage", requireAccount, requirePermission("read"));
usagePages.use("/usage/*", requireAccount, requirePermission("read"));

/** The longest range the explorer answers, in days. */
export const MAX_DAYS = 400;

// ---- local dates ----------------------------------------------------------------------------------
// A "date" here is a local calendar day written as its midnight in UTC epoch ms (2026-11-23 is
// Date.UTC(2026, 10, 23)), the same keys the rollup query gives day groups (shared/zoned-time.ts).

/** "2026-11-23" → its date key, or null (only real dates from 2000 to 2099). */
export function parseDate(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = Date.UTC(y, mo - 1, d);
  if (y < 2000 || y > 2099 || isoDate(date) !== text.trim()) return null;
  return date;
}

export const PRESETS = {
  today: "Today",
  "7d": "7 days",
  "30d": "30 days",
  this_month: "This month",
  last_month: "Last month",
  "90d": "90 days",
} as const;
export type Preset = keyof typeof PRESETS;

export function isPreset(text: string | undefined): text is Preset {
  return text !== undefined && Object.hasOwn(PRESETS, text);
}

/** The first and last local date of a preset, seen at `now`. */
export function presetDates(preset: Preset, tz: string, now: number): { first: number; last: number } {
  const today = localDate(tz, now);
  const d = new Date(today);
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  switch (preset) {
    case "today":
      return { first: today, last: today };
    case "7d":
      return { first: today - 6 * DAY_MS, last: today };
    case "30d":
      return { first: today - 29 * DAY_MS, last: today };
    case "90d":
      return { first: today - 89 * DAY_MS, last: today };
    case "this_month":
      return { first: monthStart, last: today };
    case "last_month":
      return { first: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1), last: monthStart - DAY_MS };
  }
}

// ---- the request -----------------------------------------------------------------------------------

const FIELDS = ["range", "from", "to", "group", "group2", "provider", "model", "key", "dim", "dim_value"] as const;

function all(c: Context<WebEnv>, name: string): string[] {
  return (c.req.queries(name) ?? []).map((v) => v.trim()).filter(Boolean);
}

/** The query as the form shows it, each field's values joined. */
function formOf(c: Context<WebEnv>): UsageForm {
  const form = {} as UsageForm;
  for (const name of FIELDS) form[name] = all(c, name).join(", ");
  // No grouping asked for at all (a fresh page): by day.
  if (c.req.queries("group") === undefined && c.req.queries("group2") === undefined) form.group = "day";
  return form;
}

function commaList(values: string[]): string[] {
  return [
    ...new Set(
      values
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter(Boolean),
    ),
  ];
}

function plan(
  c: Context<WebEnv>,
  form: UsageForm,
  tz: string,
  now: number,
  keys: KeyOption[],
): { plan: Plan | null; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  // Time range: a preset wins; otherwise from/to (a missing one defaults around the other).
  let first = 0;
  let last = 0;
  let preset: Preset | null = null;
  if (form.range && form.range !== "custom") {
    if (isPreset(form.range)) {
      preset = form.range;
      ({ first, last } = presetDates(preset, tz, now));
    } else {
      errors.range = `Pick one of: ${Object.values(PRESETS).join(", ")}.`;
    }
  } else {
    const today = localDate(tz, now);
    const from = form.from ? parseDate(form.from) : null;
    const to = form.to ? parseDate(form.to) : null;
    if (form.from && from === null) errors.from = "Enter the first day as YYYY-MM-DD (years 2000 to 2099).";
    if (form.to && to === null) errors.to = "Enter the last day as YYYY-MM-DD (years 2000 to 2099).";
    last = to ?? (from !== null && from > today ? from : today);
    first = from ?? last - 29 * DAY_MS;
    if (!errors.from && !errors.to) {
      if (first > last) errors.from = "The first day must be on or before the last day.";
      else if ((last - first) / DAY_MS + 1 > MAX_DAYS) {
        errors.from = `Pick at most ${MAX_DAYS} days (this range has ${(last - first) / DAY_MS + 1}).`;
      }
    }
  }

  const groups: UsageGroup[] = [];
  for (const field of ["group", "group2"] as const) {
    const text = form[field];
    if (!text || text === "none") continue;
    const group = parseGroupName(text);
    if (!group) {
      errors[field] = "Group by provider, model, key, day, hour or a dimension.";
    } else if (groups.some((g) => groupName(g) === groupName(group))) {
      errors[field] = "Pick a second grouping different from the first.";
    } else if (group.kind === "dimension" && groups.some((g) => g.kind === "dimension")) {
      errors[field] = "One dimension at a time: the usage rollups cannot split calls by two dimensions at once.";
    } else {
      groups.push(group);
    }
  }

  const filters: UsageFilters = {};
  const providers = commaList(all(c, "provider"));
  const models = commaList(all(c, "model"));
  for (const [field, values] of [
    ["provider", providers],
    ["model", models],
  ] as const) {
    if (values.length > 50 || values.some((v) => v.length > 200)) {
      errors[field] = "Up to 50 names of up to 200 characters, separated by commas.";
    }
  }
  if (providers.length > 0) filters.providers = providers;
  if (models.length > 0) filters.models = models;
  const keyIds = [...new Set(all(c, "key"))];
  if (keyIds.some((id) => !keys.some((k) => k.id === id))) errors.key = "No such key in this organisation.";
  else if (keyIds.length > 0) filters.keys = keyIds;

  const dim = form.dim;
  const dimValues = [...new Set(all(c, "dim_value"))];
  if (dim) {
    if (!DIMENSION_NAME.test(dim)) {
      errors.dim = "A dimension name is 1-32 characters of a-z, 0-9, _ or -.";
    } else if (dimValues.some((v) => v.length > MAX_DIMENSION_VALUE)) {
      errors.dim_value = `A dimension value has at most ${MAX_DIMENSION_VALUE} characters.`;
    } else {
      filters.dimension = dimValues.length > 0 ? { name: dim, values: dimValues } : { name: dim };
      if (rollupProblem(groups, filters)) {
        errors.dim = "Filter by the dimension you group by: the usage rollups hold one dimension at a time.";
      }
    }
  } else if (dimValues.length > 0) {
    errors.dim = "Pick the dimension this value belongs to.";
  }
  if (Object.keys(errors).length > 0) return { plan: null, errors };
  return { plan: { first, last, preset, groups, filters }, errors };
}

// ---- the page ---------------------------------------------------------------------------------------

/** The query string of a request: the plan's dates and filters when it has one, else the form's text. */
function queryString(form: UsageForm, p: Plan | null, drop: readonly string[] = []): string {
  const q = new URLSearchParams();
  const add = (name: string, value: string | undefined) => {
    if (value && !drop.includes(name)) q.append(name, value);
  };
  add("from", p ? isoDate(p.first) : form.from);
  add("to", p ? isoDate(p.last) : form.to);
  add("group", form.group || "none");
  add("group2", form.group2);
  add("provider", p ? p.filters.providers?.join(",") : form.provider);
  add("model", p ? p.filters.models?.join(",") : form.model);
  for (const id of p ? (p.filters.keys ?? []) : form.key.split(", ")) add("key", id);
  add("dim", p ? p.filters.dimension?.name : form.dim);
  for (const v of p ? (p.filters.dimension?.values ?? []) : [form.dim_value]) add("dim_value", v);
  return q.toString();
}

type Loaded = { view: ExplorerView; answer: Answer | null };

async function load(c: Context<WebEnv>): Promise<Loaded> {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const now = Date.now();
  const [f, keyRows, dims] = await Promise.all([orgFormat(c), listKeyChoices(db), dimensionNames(db)]);
  const keys = keyRows.map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, revoked: k.revoked_at !== null }));
  const form = formOf(c);
  // Values with commas inside (dimension values) stay whole: the form shows the first one.
  form.dim_value = all(c, "dim_value")[0] ?? "";
  const { plan: p, errors } = plan(c, form, f.timeZone, now, keys);
  const a = p ? await answer(db, p, f, keys) : null;
  if (p) {
    form.from = isoDate(p.first);
    form.to = isoDate(p.last);
  }
  const base = queryString(form, p, ["from", "to", "range"]);
  const groupOptions = [
    { value: "provider", label: "Provider" },
    { value: "model", label: "Model" },
    { value: "key", label: "Key" },
    { value: "day", label: "Day" },
    { value: "hour", label: "Hour" },
    ...dims.map((d) => ({ value: `dimension:${d}`, label: `Dimension “${d}”` })),
  ];
  const result: ResultView | null = a
    ? {
        rangeLabel: `${dateFormats(f).long(a.plan.first)} – ${dateFormats(f).long(a.plan.last)}`,
        days: (a.plan.last - a.plan.first) / DAY_MS + 1,
        timeZone: f.timeZone,
        headers: a.plan.groups.map(header),
        rows: a.rows.map((r) => ({ cells: r.cells, sums: formatted(r.sums, f) })),
        totals: formatted(a.totals, f),
        truncated: a.truncated,
        cap: f.count(ROW_CAP),
        chart: chartOf(a, f),
        exportHref: `/usage/export?${queryString(form, a.plan)}`,
        format: (nano: bigint) => f.usd(nano),
      }
    : null;
  return {
    answer: a,
    view: {
      form,
      errors,
      result,
      presets: Object.entries(PRESETS).map(([key, label]) => ({
        label,
        href: `/usage?range=${key}${base ? `&${base}` : ""}`,
        current: p?.preset === key,
      })),
      groupOptions,
      keys: keys.map((k) => ({ id: k.id, label: `${k.name} (${k.prefix}…)${k.revoked ? ", revoked" : ""}` })),
      dims,
    },
  };
}

usagePages.get("/usage", async (c) => {
  const { view } = await load(c);
  const invalid = Object.keys(view.errors).length > 0;
  if (invalid) c.status(400);
  if (wantsFragment(c)) {
    if (invalid) {
      c.header("HX-Retarget", "#explorer");
      c.header("HX-Reswap", "outerHTML");
    }
    const whole = invalid || (c.req.header("hx-target") ?? "").endsWith("#explorer");
    return c.html(whole ? <UsageExplorer view={view} /> : <UsageResults view={view} />);
  }
  return c.render(<UsagePage view={view} />, { title: "Usage" });
});

usagePages.get("/usage/export", async (c) => {
  const { view, answer: a } = await load(c);
  if (!a) {
    c.status(400);
    return c.render(<UsagePage view={view} />, { title: "Usage" });
  }
  const name = `outlay-usage-${isoDate(a.plan.first)}-to-${isoDate(a.plan.last)}.csv`;
  return c.body(toCsv(a), 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${name}"`,
  });
});
