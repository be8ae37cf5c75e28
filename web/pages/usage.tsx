// /usage: the usage explorer — a form (time range, up to two groupings, filters) that works as a
// plain GET form and, with htmx, swaps the results section in place; a chart and a table of the
// same rows; a CSV link for exactly those rows.
import type { Child } from "hono/jsx";
import { BarChart, TimeChart, type Bar, type ChartFormat, type TimePoint } from "../components/chart.tsx";
import { Field, Notice, SelectField } from "../components/form.tsx";

export type UsageForm = {
  range: string;
  from: string;
  to: string;
  group: string;
  group2: string;
  provider: string;
  model: string;
  key: string;
  dim: string;
  dim_value: string;
};

export type FormattedSums = {
  requests: string;
  input: string;
  output: string;
  cached: string;
  cost: string;
  unpriced: string;
};

export type ResultCell = { text: string; code?: string; none?: boolean };

export type ResultView = {
  rangeLabel: string;
  days: number;
  timeZone: string;
  headers: string[];
  rows: { cells: ResultCell[]; sums: FormattedSums }[];
  totals: FormattedSums;
  truncated: boolean;
  cap: string;
  chart:
    | { kind: "time"; title: string; desc: string; points: TimePoint[] }
    | { kind: "bars"; title: string; desc: string; bars: Bar[] }
    | null;
  exportHref: string;
  format: ChartFormat;
};

export type ExplorerView = {
  form: UsageForm;
  errors: Record<string, string>;
  result: ResultView | null;
  presets: { label: string; href: string; current: boolean }[];
  groupOptions: { value: string; label: string }[];
  keys: { id: string; label: string }[];
  dims: string[];
};

const NUMBER_HEADERS = ["Requests", "Input tokens", "Output tokens", "Cached tokens", "Cost", "Unpriced requests"];

function Sums({ s }: { s: FormattedSums }) {
  return (
    <>
      <td class="num">{s.requests}</td>
      <td class="num">{s.input}</td>
      <td class="num">{s.output}</td>
      <td class="num">{s.cached}</td>
      <td class="num">{s.cost}</td>
      <td class="num">{s.unpriced}</td>
    </>
  );
}

function CellText({ cell }: { cell: ResultCell }) {
  if (cell.none) return <span class="hint">{cell.text}</span>;
  return (
    <>
      {cell.text}
      {cell.code && (
        <>
          {" "}
          <code>{cell.code}</code>
        </>
      )}
    </>
  );
}

function ResultTable({ r }: { r: ResultView }) {
  const grouped = r.headers.length > 0;
  return (
    <div class="table-wrap">
      <table>
        <caption class="skip">Usage {r.rangeLabel}</caption>
        <thead>
          <tr>
            {grouped ? r.headers.map((h) => <th scope="col">{h}</th>) : <th scope="col">Calls</th>}
            {NUMBER_HEADERS.map((h) => (
              <th scope="col" class="num">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        {grouped && (
          <tbody>
            {r.rows.map((row) => (
              <tr>
                {row.cells.map((cell, i) =>
                  i === 0 ? (
                    <th scope="row">
                      <CellText cell={cell} />
                    </th>
                  ) : (
                    <td>
                      <CellText cell={cell} />
                    </td>
                  ),
                )}
                <Sums s={row.sums} />
              </tr>
            ))}
          </tbody>
        )}
        <tfoot>
          <tr class="total">
            <th scope="row" colspan={Math.max(r.headers.length, 1)}>
              {grouped ? (r.truncated ? "Total (all rows)" : "Total") : "All calls"}
            </th>
            <Sums s={r.totals} />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

export function UsageResults({ view }: { view: ExplorerView }) {
  const r = view.result;
  return (
    <section id="usage-results" class="usage-results" aria-labelledby="results-h" aria-live="polite">
      <h2 id="results-h">Results</h2>
      {!r ? (
        <Notice kind="error">Correct the fields marked above to see usage.</Notice>
      ) : (
        <>
          <p class="hint">
            {r.rangeLabel} ({r.days} {r.days === 1 ? "day" : "days"}), days and hours in {r.timeZone}. From the usage
            rollups.
          </p>
          {r.truncated && (
            <Notice kind="warn">
              More than {r.cap} rows: the first {r.cap} are shown (and in the CSV). Narrow the range or group by day
              instead of hour.
            </Notice>
          )}
          {r.rows.length === 0 ? (
            <p>No calls in this range match. Widen the range or remove a filter.</p>
          ) : (
            <>
              {r.chart?.kind === "time" && (
                <TimeChart
                  id="usage-chart"
                  title={r.chart.title}
                  desc={r.chart.desc}
                  points={r.chart.points}
                  format={r.format}
                />
              )}
              {r.chart?.kind === "bars" && (
                <BarChart
                  id="usage-chart"
                  title={r.chart.title}
                  desc={r.chart.desc}
                  bars={r.chart.bars}
                  format={r.format}
                />
              )}
              <ResultTable r={r} />
            </>
          )}
          <p>
            <a class="button secondary" href={r.exportHref} download>
              Download CSV
            </a>{" "}
            <span class="hint">the rows above, cost as exact decimal USD</span>
          </p>
        </>
      )}
    </section>
  );
}

function Fieldset(p: { legend: string; wide?: boolean; children?: Child }) {
  return (
    <fieldset class={p.wide ? "usage-fields wide" : "usage-fields"}>
      <legend>{p.legend}</legend>
      {p.children}
    </fieldset>
  );
}

/** The form and its results: the part htmx swaps whole when the form has errors. */
export function UsageExplorer({ view }: { view: ExplorerView }) {
  const f = view.form;
  const e = view.errors;
  const invalid = Object.keys(e).length > 0;
  const none = { value: "none", label: "Nothing" };
  return (
    <div id="explorer">
      <nav class="presets" aria-label="Time range presets">
        <span class="hint">Range:</span>
        {view.presets.map((p) => (
          <a href={p.href} aria-current={p.current ? "true" : undefined}>
            {p.label}
          </a>
        ))}
      </nav>
      {e.range && <Notice kind="error">{<span id="range-error">{e.range}</span>}</Notice>}
      <form
        class="usage-form"
        method="get"
        action="/usage"
        hx-get="/usage"
        hx-trigger="change, submit"
        hx-target={invalid ? "#explorer" : "#usage-results"}
        hx-swap="outerHTML"
        hx-push-url="true"
      >
        <Fieldset legend="Time range">
          <Field name="from" label="First day" type="date" value={f.from} error={e.from} required={false} />
          <Field name="to" label="Last day" type="date" value={f.to} error={e.to} required={false} />
        </Fieldset>
        <Fieldset legend="Group by">
          <SelectField
            name="group"
            label="Group by"
            value={f.group || "none"}
            options={[none, ...view.groupOptions]}
            error={e.group}
          />
          <SelectField
            name="group2"
            label="Then by"
            value={f.group2 || "none"}
            options={[none, ...view.groupOptions]}
            error={e.group2}
          />
        </Fieldset>
        <Fieldset legend="Filters" wide>
          <Field
            name="provider"
            label="Provider"
            value={f.provider}
            error={e.provider}
            required={false}
            hint="e.g. openai; several separated by commas"
          />
          <Field
            name="model"
            label="Model"
            value={f.model}
            error={e.model}
            required={false}
            hint="e.g. gpt-4o-mini; several separated by commas"
          />
          <SelectField
            name="key"
            label="Key"
            value={f.key}
            options={[{ value: "", label: "All keys" }, ...view.keys.map((k) => ({ value: k.id, label: k.label }))]}
            error={e.key}
          />
          <SelectField
            name="dim"
            label="Dimension"
            value={f.dim}
            options={[{ value: "", label: "Any" }, ...view.dims.map((d) => ({ value: d, label: d }))]}
            error={e.dim}
          />
          <Field
            name="dim_value"
            label="Dimension value"
            value={f.dim_value}
            error={e.dim_value}
            required={false}
            hint="Empty: every call that has the dimension"
          />
        </Fieldset>
        <button type="submit">Show</button>
      </form>
      <UsageResults view={view} />
    </div>
  );
}

export function UsagePage({ view }: { view: ExplorerView }) {
  return (
    <>
      <h1>Usage</h1>
      <p class="lead">
        Spend and tokens by provider, model, key, day, hour or dimension, from the usage rollups. Pick a range, a
        grouping and filters; the address of this page is shareable.
      </p>
      <UsageExplorer view={view} />
    </>
  );
}
