// /activity: refusals and policy decisions from the audit events stored so far, filterable
// (category, refusal code, key, days in the organisation's zone), newest first, 50 a page by a
// seq cursor (?before=<seq>). Reads D1's audit_events the way GET /api/v1/audit does, through the
// tenant-scoped accessor; names of keys, rules, members and tokens come from this organisation only.
import { wantsFragment } from "../htmx.ts";
import { Hono, type Context } from "hono";
import { tenantDb } from "../../store/index.ts";
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

export const activityPages = new Hono<WebEnv>();
activityPages.use("/activity/*", requireAccount, requirePermission("read"));

export const PAGE_SIZE = 50;

/** Which event types each category shows (fixed SQL: no user input reaches it). */
const CATEGORY_SQL: Record<Category, string> = {
  decisions: "type IN ('call.refused', 'budget.threshold', 'hold.expired')",
  calls: "type = 'call.admitted'",
  changes: "type NOT IN ('call.refused', 'budget.threshold', 'hold.expired', 'call.admitted', 'lease.granted')",
};

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
  const list = JSON.stringify([...ids]);
  const [keys, rules, users, tokens] = await db.batch([
    db.prepare(
      "SELECT id, name, prefix FROM api_keys WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
    db.prepare(
      "SELECT id, kind, name FROM ledger_rules WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
    // Only people who belong to this organisation: never another organisation's members.
    db.prepare(
      `SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ?1 AND m.user_id IN (SELECT value FROM json_each(?2))`,
      list,
    ),
    db.prepare(
      "SELECT id, name FROM admin_tokens WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
  ]);
  const results = <T,>(r: D1Result | undefined) => (r?.results ?? []) as T[];
  return {
    keys: new Map(results<{ id: string; name: string; prefix: string }>(keys).map((k) => [k.id, k])),
    rules: new Map(results<{ id: string; kind: string; name: string }>(rules).map((r) => [r.id, r])),
    users: new Map(results<{ id: string; email: string }>(users).map((u) => [u.id, u.email])),
    tokens: new Map(results<{ id: string; name: string }>(tokens).map((t) => [t.id, t.name])),
  };
}

activityPages.get("/activity", async (c) => {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [f, keyRows] = await Promise.all([
    orgFormat(c),
    db.all<{ id: string; name: string; prefix: string; revoked_at: number | null }>(
      "SELECT id, name, prefix, revoked_at FROM api_keys WHERE tenant_id = ?1 ORDER BY revoked_at IS NOT NULL, name, id",
    ),
  ]);
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
    errors,
  };
  if (Object.keys(errors).length === 0) {
    const rows = await db.all<AuditRow>(
      `SELECT seq, at, type, actor_kind, actor_id, request_id, subject, data FROM audit_events
       WHERE tenant_id = ?1 AND ${CATEGORY_SQL[filters.category]}
         AND (?2 IS NULL OR seq < ?2)
         AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4)
         AND (?5 IS NULL OR (type = 'call.refused' AND json_extract(data, '$.code') = ?5))
         AND (?6 IS NULL OR (actor_kind = 'key' AND actor_id = ?6) OR (type LIKE 'key.%' AND subject = ?6)
              OR (type = 'hold.expired' AND json_extract(data, '$.keyId') = ?6))
       ORDER BY seq DESC LIMIT ?7`,
      before,
      range.from,
      range.to,
      filters.category === "decisions" && filters.code ? filters.code : null,
      filters.key || null,
      PAGE_SIZE + 1,
    );
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
