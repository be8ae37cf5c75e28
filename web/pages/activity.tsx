// /activity: the organisation's audit events, newest first, 50 a page — refusals and budget
// decisions by default, every change, admitted calls, or page and API access — with filters that work as a plain GET
// form and, with htmx, swap the region in place (the same region is the fragment).
import { FieldError } from "../components/form.tsx";
import { Table } from "../components/table.tsx";

export const CATEGORIES = [
  { value: "decisions", label: "Refusals and decisions" },
  { value: "changes", label: "All changes" },
  { value: "calls", label: "Admitted calls" },
  { value: "access", label: "Page and API access" },
] as const;
export type Category = (typeof CATEGORIES)[number]["value"];

export const REFUSAL_CODES = [
  { value: "budget_exceeded", label: "Budget exceeded" },
  { value: "policy_denied", label: "Policy denied" },
  { value: "rate_limited", label: "Rate limited" },
  { value: "invalid_api_key", label: "Invalid key" },
  { value: "invalid_dimension", label: "Invalid dimension" },
] as const;

export type Filters = { category: Category; code: string; key: string; from: string; to: string };

export type Link = { text: string; href?: string; code?: string };

export type ActivityRow = {
  seq: number;
  time: string;
  label: string;
  tone: "danger" | "warn" | "ok" | null;
  who: Link;
  subject: Link | null;
  details: string[];
};

export type ActivityView = {
  filters: Filters;
  keys: { id: string; text: string }[];
  rows: ActivityRow[];
  timeZone: string;
  /** the query string of the next (older) page, or null on the last page */
  older: string | null;
  /** the query string of the first page, when this is not it */
  newest: string | null;
  /** the export's query string (category and days) for the download links, or null */
  downloads: string | null;
  errors: Record<string, string>;
};

function invalid(field: string, errors: Record<string, string>) {
  return errors[field] ? { "aria-invalid": "true", "aria-describedby": `${field}-error` } : {};
}

function FilterForm({ v }: { v: ActivityView }) {
  const f = v.filters;
  const e = v.errors;
  return (
    <form
      class="filters"
      method="get"
      action="/activity"
      hx-get="/activity"
      hx-target="#activity"
      hx-swap="outerMorph"
      hx-push-url="true"
      hx-trigger="change, submit"
    >
      <label>
        Show
        <select name="category" id="category" {...invalid("category", e)}>
          {CATEGORIES.map((c) => (
            <option value={c.value} selected={f.category === c.value}>
              {c.label}
            </option>
          ))}
        </select>
        <FieldError name="category" error={e.category} />
      </label>
      <label>
        Refusal code
        <select name="code" id="code" {...invalid("code", e)}>
          <option value="">Any</option>
          {REFUSAL_CODES.map((c) => (
            <option value={c.value} selected={f.code === c.value}>
              {c.label}
            </option>
          ))}
        </select>
        <FieldError name="code" error={e.code} />
      </label>
      <label>
        Key
        <select name="key" id="key" {...invalid("key", e)}>
          <option value="">Any key</option>
          {v.keys.map((k) => (
            <option value={k.id} selected={f.key === k.id}>
              {k.text}
            </option>
          ))}
        </select>
        <FieldError name="key" error={e.key} />
      </label>
      <label>
        From
        <input type="date" name="from" id="from" value={f.from} {...invalid("from", e)} />
        <FieldError name="from" error={e.from} />
      </label>
      <label>
        To
        <input type="date" name="to" id="to" value={f.to} {...invalid("to", e)} />
        <FieldError name="to" error={e.to} />
      </label>
      <button type="submit">Apply</button>
    </form>
  );
}

function Linked({ link }: { link: Link }) {
  const body = (
    <>
      {link.text}
      {link.code && (
        <>
          {" "}
          <code>{link.code}</code>
        </>
      )}
    </>
  );
  return link.href ? <a href={link.href}>{body}</a> : body;
}

function Empty({ category, filtered }: { category: Category; filtered: boolean }) {
  const what: Record<Category, string> = {
    decisions:
      "No refusals or budget decisions yet. Calls refused by a budget, a policy or a rate limit, budget thresholds crossed and holds that expired show up here.",
    changes:
      "No changes yet. Keys, budgets, policies, rate limits, providers, settings, members, sign-ins and admin tokens show up here as they change.",
    calls: "No admitted calls yet. Every call a proxy key makes through Outlay shows up here once admitted.",
    access:
      "No access recorded yet. Every dashboard page and every management API request of this organisation shows up here: who, which route, the answer's status and where from.",
  };
  return (
    <p class="empty">
      {filtered ? "Nothing matches these filters. Widen the time range or clear a filter." : what[category]}
    </p>
  );
}

function Pager({ v }: { v: ActivityView }) {
  if (!v.older && !v.newest) return null;
  const link = (query: string, text: string) => (
    <a
      class="button secondary"
      href={`/activity?${query}`}
      hx-get={`/activity?${query}`}
      hx-target="#activity"
      hx-swap="outerMorph"
      hx-push-url="true"
    >
      {text}
    </a>
  );
  return (
    <nav class="pager" aria-label="Pages">
      {v.newest !== null && link(v.newest, "Newest")}
      {v.older !== null && link(v.older, "Older")}
    </nav>
  );
}

/** Links to the whole selection as a file: every event of the category in the chosen days, not
 * only this page (the refusal code and key filters are not applied). */
function Downloads({ v }: { v: ActivityView }) {
  if (v.downloads === null) return null;
  const label = CATEGORIES.find((c) => c.value === v.filters.category)?.label.toLowerCase() ?? "events";
  return (
    <p class="downloads">
      <a class="button secondary" href={`/activity/export?${v.downloads}&format=csv`} download>
        Download CSV
      </a>{" "}
      <a class="button secondary" href={`/activity/export?${v.downloads}&format=ndjson`} download>
        Download NDJSON
      </a>{" "}
      <span class="hint">
        Every event of “{label}”{v.filters.from || v.filters.to ? " in the chosen days" : ""}, oldest first, times in
        UTC; the refusal code and key filters do not apply.
      </span>
    </p>
  );
}

/** The filters and the events: the whole page's content below the heading, and the htmx fragment. */
export function ActivityRegion({ v }: { v: ActivityView }) {
  const f = v.filters;
  const filtered = f.code !== "" || f.key !== "" || f.from !== "" || f.to !== "" || v.newest !== null;
  return (
    <div id="activity">
      <FilterForm v={v} />
      {v.errors.before && (
        <p class="field-error" id="before-error" role="alert">
          {v.errors.before}
        </p>
      )}
      {v.errors.format && (
        <p class="field-error" id="format-error" role="alert">
          {v.errors.format}
        </p>
      )}
      <p class="hint">
        Times in {v.timeZone}. Newest first, 50 a page.
        {f.category === "decisions" ? "" : " The refusal code filter applies to refusals only."}
      </p>
      {Object.keys(v.errors).length > 0 ? null : v.rows.length === 0 ? (
        <Empty category={f.category} filtered={filtered} />
      ) : (
        <Table headers={["Time", "Event", "By", "About", "Details"]}>
          {v.rows.map((r) => (
            <tr>
              <td class="nowrap">{r.time}</td>
              <td>{r.tone ? <span class={`badge ${r.tone}`}>{r.label}</span> : r.label}</td>
              <td>
                <Linked link={r.who} />
              </td>
              <td>{r.subject ? <Linked link={r.subject} /> : "—"}</td>
              <td>
                {r.details.length === 0
                  ? "—"
                  : r.details.map((d, i) => (
                      <>
                        {i > 0 && <br />}
                        {d}
                      </>
                    ))}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Pager v={v} />
      <Downloads v={v} />
    </div>
  );
}

export function ActivityPage({ v }: { v: ActivityView }) {
  return (
    <>
      <h1>Activity</h1>
      <p class="lead">
        What Outlay decided and who changed what, from the audit trail stored so far: refusals, budget thresholds,
        changes to keys, rules, providers and members, admitted calls, and who opened which page or API route.
      </p>
      <ActivityRegion v={v} />
    </>
  );
}
