// The pages the dashboard benchmark measures. Add a page here: a path (query included), the text
// its answer must contain (so an error page or a sign-in redirect is never timed as a page), and
// optional headers (htmx fragments send `HX-Request: true`). `{key}` in a path is replaced by the
// id of the organisation's busiest key. A page with `timeZone` is measured while the organisation's
// time zone is that one (the others in UTC): local days that are not UTC days read differently.

export type PageSpec = {
  id: string;
  title: string;
  path: string;
  /** text the body must contain */
  expect: string;
  headers?: Record<string, string>;
  /** false: sent without the session cookie (GET /health) */
  session?: boolean;
  /** the page the others are compared with (one) */
  baseline?: boolean;
  /** the answer is not HTML */
  contentType?: string;
  /** the organisation's time zone while the page is measured (default UTC) */
  timeZone?: string;
};

/** A zone whose days are not UTC days, with a daylight-saving change inside the 180 days. */
export const OTHER_ZONE = "America/Los_Angeles";

const USAGE = "<title>Usage · Outlay</title>";

export const PAGES: readonly PageSpec[] = [
  {
    id: "health",
    title: "GET /health (no session, no page middleware)",
    path: "/health",
    expect: '"ok":true',
    session: false,
    contentType: "application/json",
  },
  {
    id: "quickstart",
    title: "GET /quickstart (baseline: a trivial page through the same middleware)",
    path: "/quickstart",
    expect: "<title>Quick start · Outlay</title>",
    baseline: true,
  },
  { id: "account", title: "GET /account", path: "/account", expect: "<title>Account · Outlay</title>" },
  {
    id: "keys",
    title: "GET /keys (200 keys, last use and this month's spend)",
    path: "/keys",
    expect: "<title>Keys · Outlay</title>",
  },
  { id: "overview", title: "GET / (overview)", path: "/", expect: "<title>Overview · Outlay</title>" },
  {
    id: "overview-spend",
    title: "GET /usage/summary (the overview's spend figures, htmx fragment)",
    path: "/usage/summary",
    expect: "",
    headers: { "hx-request": "true" },
  },
  { id: "usage-default", title: "GET /usage (default: 30 days by day)", path: "/usage", expect: USAGE },
  { id: "usage-model-90d", title: "GET /usage, 90 days by model", path: "/usage?range=90d&group=model", expect: USAGE },
  { id: "usage-hour-7d", title: "GET /usage, 7 days by hour", path: "/usage?range=7d&group=hour", expect: USAGE },
  {
    id: "usage-team-key-30d",
    title: "GET /usage, 30 days by dimension team, one key",
    path: "/usage?range=30d&group=dimension:team&key={key}",
    expect: USAGE,
  },
  {
    id: "usage-fragment",
    title: "GET /usage, 30 days by day, htmx fragment",
    path: "/usage?range=30d&group=day",
    expect: "",
    headers: { "hx-request": "true" },
  },
  {
    id: "usage-csv-90d",
    title: "GET /usage/export, 90 days by model (CSV)",
    path: "/usage/export?range=90d&group=model",
    expect: "requests",
    contentType: "text/csv",
  },
  {
    id: "activity",
    title: "GET /activity (refusals and policy decisions)",
    path: "/activity",
    expect: "<title>Activity · Outlay</title>",
  },
  {
    id: "overview-la",
    title: `GET / (overview), organisation in ${OTHER_ZONE}`,
    path: "/",
    expect: "<title>Overview · Outlay</title>",
    timeZone: OTHER_ZONE,
  },
  {
    id: "usage-default-la",
    title: `GET /usage (30 days by day), organisation in ${OTHER_ZONE}`,
    path: "/usage",
    expect: USAGE,
    timeZone: OTHER_ZONE,
  },
  {
    id: "usage-day-90d-la",
    title: `GET /usage, 90 days by day, organisation in ${OTHER_ZONE}`,
    path: "/usage?range=90d&group=day",
    expect: USAGE,
    timeZone: OTHER_ZONE,
  },
];

/** The pages by the organisation's time zone while they are measured, UTC first. */
export function byTimeZone(pages: readonly PageSpec[]): [string, PageSpec[]][] {
  const zones = new Map<string, PageSpec[]>([["UTC", []]]);
  for (const page of pages) {
    const zone = page.timeZone ?? "UTC";
    zones.set(zone, [...(zones.get(zone) ?? []), page]);
  }
  return [...zones].filter(([, group]) => group.length > 0);
}

export function baselineOf(pages: readonly PageSpec[]): PageSpec {
  const found = pages.filter((p) => p.baseline);
  if (found.length !== 1 || !found[0]) throw new Error("exactly one page must be the baseline");
  return found[0];
}
