// /activity: refusals and policy decisions from the audit events stored so far, filterable
// (category, refusal code, key, days in the organisation's zone), newest first, 50 a page by a
// seq cursor (?before=<seq>). Reads D1's audit_events through the audit store, as GET /api/v1/audit
// does; names of keys, rules, members and tokens come from this organisation only (auditNames).
// /activity/export?category=&from=&to=&format=csv|ndjson: every event of the category's types in
// the chosen days, oldest first, streamed by the same service as GET /api/v1/audit/export.
import { wantsFragment } from "../htmx.ts";
import { Hono, type Context } from "hono";
import { auditEventsBefore, auditNames, listKeyChoices, tenantDb } from "../../store/index.ts";
import { windowRange } from "../../../shared/windows.ts";
import { requireAccount, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { orgFormat } from "../org-format.ts";
import type { AuditRow } from "../../store/index.ts";
import { describeEvent, eventData, type Lookups } from "../activity-events.ts";
import {
  ActivityPage,
  ActivityRegion,
  CATEGORIES,
  REFUSAL_CODES,
  type ActivityView,
  type Category,
  type Filters,
} from "../../../web/pages/activity.tsx";
import { DAY_MS } from "../../../shared/time.ts";
import { AUDIT_TYPES, type AuditType } from "../../../shared/audit.ts";
import { ALL_TIME, exportAuditEvents } from "../../services/index.ts";

export const activityPages = new Hono<WebEnv>();
activityPages.use("/activity/*", requireAccount, requirePermission("read"));

export const PAGE_SIZE = 50;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2025-03-31" → the UTC instant at which that day starts on the wall clock, or null if no date. */
function dayStartIn(day: string, timeZone: string): number | null {
  const m = DATE.exec(day);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const noon = Date.UTC(y, mo - 1, d, 12);
  if (new Date(noon).toISOString().slice(0, 10) !== day || y < 1970) return null;
  const local = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  // Noon UTC is on that local day except in zones more than 12 h from UTC: try half a day either side.
  for (const at of [noon, noon - DAY_MS / 2, noon + DAY_MS / 2]) {
    const { start } = windowRange({ kind: "daily" }, timeZone, at);
    if (local.format(start) === day) return start;
  }
  return null;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

type Parsed = {
  filters: Filters;
  before: number | null;
  /** [from, to) in UTC ms from the days chosen, null where open */
  range: { from: number | null; to: number | null };
  errors: Record<string, string>;
};

function parseFilters(c: Context<WebEnv>, keyIds: Set<string>, timeZone: string): Parsed {
  const q = (name: string) => (c.req.query(name) ?? "").trim();
  const errors: Record<string, string> = {};
  const category = q("category") || "decisions";
  const known = CATEGORIES.find((x) => x.value === category);
  if (!known) errors.category = "Choose what to show from the list.";
  const code = q("code");
  if (code && !REFUSAL_CODES.some((x) => x.value === code)) errors.code = "Choose a refusal code from the list.";
  const key = q("key");
  if (key && !keyIds.has(key)) errors.key = "Choose one of this organisation's keys.";
  const from = q("from");
  const to = q("to");
  const range = {
    from: from ? dayStartIn(from, timeZone) : null,
    to: to ? dayStartIn(to, timeZone) : null,
  };
  if (from && range.from === null) errors.from = "Pick a date (YYYY-MM-DD).";
  if (to && range.to === null) errors.to = "Pick a date (YYYY-MM-DD).";
  else if (to) range.to = dayStartIn(nextDay(to), timeZone);
  if (from && to && !errors.from && !errors.to && to < from)
    errors.to = "The end day must not be before the start day.";
  const beforeText = q("before");
  let before: number | null = null;
  if (beforeText) {
    before = /^\d{1,15}$/.test(beforeText) ? Number(beforeText) : null;
    if (!before) errors.before = "That page of activity does not exist. Start again from the newest events.";
  }
  return { filters: { category: known?.value ?? "decisions", code, key, from, to }, before, range, errors };
}

/** The event types of each category: the audit store's category filters (CATEGORY_SQL in
 * workers/store/audit.ts) as lists, for the export. "changes" is every type the others do not
 * hold, except lease.granted, which no category shows. test/export/dashboard-export.test.ts
 * checks that both select the same events. */
const DECISIONS: readonly AuditType[] = ["call.refused", "budget.threshold", "hold.expired"];
const ACCESS: readonly AuditType[] = ["access.dashboard", "access.api", "access.operator"];
export const CATEGORY_TYPES: Record<Category, readonly AuditType[]> = {
  decisions: DECISIONS,
  calls: ["call.admitted"],
  access: ACCESS,
  changes: AUDIT_TYPES.filter(
    (t) => !DECISIONS.includes(t) && !ACCESS.includes(t) && t !== "call.admitted" && t !== "lease.granted",
  ),
};

/** The export's query for these filters (its category and days; refusal code and key do not apply). */
function exportQuery(filters: Filters): string {
  const params = new URLSearchParams({ category: filters.category });
  for (const name of ["from", "to"] as const) if (filters[name]) params.set(name, filters[name]);
  return params.toString();
}

function query(filters: Filters, before: number | null): string {
  const params = new URLSearchParams({ category: filters.category });
  for (const name of ["code", "key", "from", "to"] as const) if (filters[name]) params.set(name, filters[name]);
  if (before !== null) params.set("before", String(before));
  return params.toString();
}

async function lookups(c: Context<WebEnv>, rows: AuditRow[]): Promise<Lookups> {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const ids = new Set<string>();
  for (const r of rows) {
    if (r.actor_id) ids.add(r.actor_id);
    if (r.subject) ids.add(r.subject);
    const keyId = eventData(r).keyId;
    if (typeof keyId === "string") ids.add(keyId);
  }
  const names = await auditNames(db, [...ids]);
  return {
    keys: new Map(names.keys.map((k) => [k.id, k])),
    rules: new Map(names.rules.map((r) => [r.id, r])),
    users: new Map(names.users.map((u) => [u.id, u.email])),
    tokens: new Map(names.tokens.map((t) => [t.id, t.name])),
  };
}

/** The page's view and the range its days select; rows are read only by the page itself. */
async function activityView(c: Context<WebEnv>) {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [f, keyRows] = await Promise.all([orgFormat(c), listKeyChoices(db)]);
  const { filters, before, range, errors } = parseFilters(c, new Set(keyRows.map((k) => k.id)), f.timeZone);
  const view: ActivityView = {
    filters,
    keys: keyRows.map((k) => ({
      id: k.id,
      text: `${k.name} (${k.prefix}…)${k.revoked_at === null ? "" : ", revoked"}`,
    })),
    rows: [],
    timeZone: f.timeZone,
    older: null,
    newest: before === null ? null : query(filters, null),
    downloads: Object.keys(errors).length === 0 ? exportQuery(filters) : null,
    errors,
  };
  return { db, f, view, before, range };
}

activityPages.get("/activity", async (c) => {
  const { db, f, view, before, range } = await activityView(c);
  const { filters, errors } = view;
  if (Object.keys(errors).length === 0) {
    const rows = await auditEventsBefore(db, {
      category: filters.category,
      before,
      from: range.from,
      to: range.to,
      code: filters.category === "decisions" && filters.code ? filters.code : null,
      keyId: filters.key || null,
      limit: PAGE_SIZE + 1,
    });
    const page = rows.slice(0, PAGE_SIZE);
    const found = await lookups(c, page);
    const seconds = new Intl.DateTimeFormat(f.locale, {
      dateStyle: "medium",
      timeStyle: "medium",
      timeZone: f.timeZone,
    });
    view.rows = page.map((r) => describeEvent(r, found, { time: (ms) => seconds.format(ms), f }));
    const last = page.at(-1);
    if (rows.length > PAGE_SIZE && last) view.older = query(filters, last.seq);
  }
  c.header("vary", "HX-Request");
  const status = Object.keys(errors).length > 0 ? 400 : 200;
  if (wantsFragment(c)) {
    // The address put in the history: the filters as read, without the form's empty fields.
    if (status === 200) c.header("hx-push-url", `/activity?${query(filters, before)}`);
    return c.html(<ActivityRegion v={view} />, status);
  }
  c.status(status);
  return c.render(<ActivityPage v={view} />, { title: "Activity" });
});

activityPages.get("/activity/export", async (c) => {
  const { db, view, range } = await activityView(c);
  const asked = c.req.query("format") || "csv";
  const format = asked === "csv" || asked === "ndjson" ? asked : null;
  if (format === null) view.errors.format = "Download CSV or NDJSON.";
  if (format === null || Object.keys(view.errors).length > 0) {
    view.downloads = null;
    c.status(400);
    return c.render(<ActivityPage v={view} />, { title: "Activity" });
  }
  const out = exportAuditEvents(db, {
    range: { from: range.from ?? ALL_TIME.from, to: range.to ?? ALL_TIME.to },
    types: CATEGORY_TYPES[view.filters.category],
    format,
  });
  return c.body(out.body, 200, out.headers);
});
