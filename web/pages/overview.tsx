// /: the overview — spend now against budgets (refreshed by htmx every 30 s from /usage/summary),
// the 30-day trend with its data table, top models/providers/keys/dimension values linking into
// the explorer, unpriced models, recent refusals; a getting-started card for a new organisation.
import type { Format } from "../format.ts";
import { TimeChart, type ChartFormat, type TimePoint } from "../components/chart.tsx";
import { Notice } from "../components/form.tsx";
import { Progress } from "../components/progress.tsx";
import { Table } from "../components/table.tsx";

export type BudgetLine = {
  id: string;
  name: string;
  scope: string;
  window: string;
  spentNano: bigint;
  heldNano: bigint;
  limitNano: bigint;
  over: boolean;
  alert: boolean;
};

export type SpendView = {
  figures: { label: string; since: string; cost: string; requests: string; budgets: BudgetLine[] }[];
  nearest: BudgetLine[];
  budgetCount: number;
  updated: string;
  format: Format;
};

export type TopRow = { label: string; code?: string; href: string; cost: string; requests: string };

export type OverviewView = {
  orgName: string;
  spend: SpendView;
  /** this calendar month's cloud AI spend (UTC), per currency, from imported bills */
  cloud: { currency: string; amount: string }[];
  empty: { hasKey: boolean; hasProvider: boolean } | null;
  trend: {
    title: string;
    desc: string;
    total: string;
    points: TimePoint[];
    rows: { date: string; cost: string; requests: string }[];
  };
  top: { models: TopRow[]; providers: TopRow[]; keys: TopRow[]; dims: TopRow[] };
  unpriced: { provider: string; model: string; requests: string; href: string }[];
  refusals: {
    at: string;
    key: string;
    keyPrefix?: string;
    call: string;
    code: string;
    rule: string | null;
    reason: string | null;
  }[];
  format: ChartFormat;
};

function Budget({ b, f }: { b: BudgetLine; f: Format }) {
  return (
    <li class="budget">
      <p class="budget-head">
        <a href="/budgets">{b.name}</a> <span class="hint">{`${b.window} · ${b.scope}`}</span>{" "}
        {b.over && <span class="badge danger">limit reached</span>} {b.alert && <span class="badge">alerts only</span>}
      </p>
      <Progress
        id={`budget-${b.id}`}
        label={b.name}
        limitNano={b.limitNano}
        spentNano={b.spentNano}
        heldNano={b.heldNano}
        format={f}
      />
    </li>
  );
}

/** The spend figures and their budgets; polls itself (outerHTML) every 30 seconds. */
export function SpendSummary({ spend }: { spend: SpendView }) {
  return (
    <section
      id="spend-now"
      class="card"
      aria-labelledby="spend-h"
      hx-get="/usage/summary"
      hx-trigger="every 30s"
      hx-swap="outerHTML"
    >
      <h2 id="spend-h">Spend now</h2>
      <div class="figures">
        {spend.figures.map((fig) => (
          <div class="figure">
            <h3>{fig.label}</h3>
            <p class="figure-value">{fig.cost}</p>
            <p class="hint">
              {fig.requests} {fig.since}
            </p>
            {fig.budgets.length > 0 && (
              <ul class="budget-list">
                {fig.budgets.map((b) => (
                  <Budget b={b} f={spend.format} />
                ))}
              </ul>
            )}
          </div>
        ))}
      </div>
      {spend.nearest.length > 0 && (
        <>
          <h3>Budgets nearest their limit</h3>
          <ul class="budget-list">
            {spend.nearest.map((b) => (
              <Budget b={b} f={spend.format} />
            ))}
          </ul>
        </>
      )}
      <p class="hint">
        {spend.budgetCount === 0 ? (
          <>
            No budgets yet: <a href="/budgets">set one</a> to cap spend or be alerted.{" "}
          </>
        ) : (
          <>
            <a href="/budgets">All budgets</a>.{" "}
          </>
        )}
        Updated {spend.updated}; refreshes every 30 seconds.
      </p>
    </section>
  );
}

function Step(p: { done: boolean; href: string; title: string; text: string }) {
  return (
    <li>
      {p.done ? <span class="badge ok">done</span> : <span class="badge warn">to do</span>}{" "}
      <a href={p.href}>{p.title}</a>: {p.text}
    </li>
  );
}

function GettingStarted({ view }: { view: OverviewView }) {
  const e = view.empty;
  if (!e) return null;
  return (
    <section class="card" aria-labelledby="start-h">
      <h2 id="start-h">Get started</h2>
      <p>No calls have gone through Outlay for {view.orgName} yet. Three steps and spend shows up here:</p>
      <ol class="steps">
        <Step
          done={e.hasKey}
          href="/keys"
          title="Create a proxy key"
          text="your applications call providers with it instead of the provider's key."
        />
        <Step
          done={e.hasProvider}
          href="/providers"
          title="Add provider credentials"
          text="Outlay forwards calls with them; they are encrypted and never shown again."
        />
        <Step
          done={false}
          href="/quickstart"
          title="Point your SDK at Outlay"
          text="the quick start has the base URL and code for OpenAI, Anthropic and Gemini."
        />
      </ol>
    </section>
  );
}

function TopTable(p: { id: string; title: string; rows: TopRow[]; empty: string }) {
  return (
    <section class="card top-list" aria-labelledby={p.id}>
      <h2 id={p.id}>{p.title}</h2>
      {p.rows.length === 0 ? (
        <p class="hint">{p.empty}</p>
      ) : (
        <Table headers={["Name"]} numeric={["Cost", "Requests"]}>
          {p.rows.map((r) => (
            <tr>
              <th scope="row">
                <a href={r.href}>{r.label}</a>
                {r.code && (
                  <>
                    {" "}
                    <code>{r.code}</code>
                  </>
                )}
              </th>
              <td class="num">{r.cost}</td>
              <td class="num">{r.requests}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function Trend({ view }: { view: OverviewView }) {
  const t = view.trend;
  return (
    <section class="card" aria-labelledby="trend-h">
      <h2 id="trend-h">Last 30 days</h2>
      <p class="hint">
        {t.total} in all. <a href="/usage?range=30d&amp;group=day">Explore this range</a>
      </p>
      <TimeChart id="trend" title={t.title} desc={t.desc} points={t.points} format={view.format} />
      <details>
        <summary>Data table</summary>
        <Table headers={["Day"]} numeric={["Cost", "Requests"]} caption={t.title}>
          {t.rows.map((r) => (
            <tr>
              <th scope="row">{r.date}</th>
              <td class="num">{r.cost}</td>
              <td class="num">{r.requests}</td>
            </tr>
          ))}
        </Table>
      </details>
    </section>
  );
}

function Unpriced({ view }: { view: OverviewView }) {
  if (view.unpriced.length === 0) return null;
  return (
    <section aria-labelledby="unpriced-h">
      <Notice kind="warn">
        <h2 id="unpriced-h">Models without a price</h2>
        <p>
          These calls of the last 30 days were metered (tokens counted) but not priced, so the figures above leave them
          out. An owner or admin can set a price override with the management API:{" "}
          <code>PUT /api/v1/prices/overrides</code> with <code>provider</code>, <code>model</code>,{" "}
          <code>input_per_mtok</code> and <code>output_per_mtok</code> (USD per million tokens). Calls after that are
          priced.
        </p>
        <ul>
          {view.unpriced.map((u) => (
            <li>
              <a href={u.href}>
                <code>{u.provider}</code> · <code>{u.model}</code>
              </a>
              : {u.requests}
            </li>
          ))}
        </ul>
      </Notice>
    </section>
  );
}

function Refusals({ view }: { view: OverviewView }) {
  return (
    <section class="card" aria-labelledby="refusals-h">
      <h2 id="refusals-h">Recent refusals</h2>
      {view.refusals.length === 0 ? (
        <p class="hint">No calls refused so far: no budget, policy or rate limit has stopped a call.</p>
      ) : (
        <Table headers={["When", "Key", "Call", "Refused because"]}>
          {view.refusals.map((r) => (
            <tr>
              <td class="nowrap">{r.at}</td>
              <td>
                {r.key}
                {r.keyPrefix && (
                  <>
                    {" "}
                    <code>{r.keyPrefix}</code>
                  </>
                )}
              </td>
              <td>{r.call}</td>
              <td>
                <code>{r.code}</code>
                {r.rule && ` (${r.rule})`}
                {r.reason && ` — ${r.reason}`}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <p>
        <a href="/activity">All activity</a>
      </p>
    </section>
  );
}

/** This month's spend through the gateway beside the AI spend of the imported cloud bills. */
function SideBySide({ view }: { view: OverviewView }) {
  const month = view.spend.figures.find((fig) => fig.label === "This month");
  return (
    <section class="card" aria-labelledby="side-h">
      <h2 id="side-h">This month: gateway and cloud AI spend</h2>
      <div class="figures">
        <div class="figure">
          <h3>Gateway spend</h3>
          <p class="figure-value">{month?.cost ?? "—"}</p>
          <p class="hint">calls metered by Outlay, {month?.since ?? "this month"}</p>
        </div>
        {view.cloud.length === 0 ? (
          <div class="figure">
            <h3>Cloud AI spend</h3>
            <p class="figure-value">—</p>
            <p class="hint">no imported bill covers this month</p>
          </div>
        ) : (
          view.cloud.map((c) => (
            <div class="figure">
              <h3>{`Cloud AI spend (${c.currency})`}</h3>
              <p class="figure-value">{c.amount}</p>
              <p class="hint">Bedrock, SageMaker, GPU and other AI services from your bills; no credits or tax</p>
            </div>
          ))
        )}
      </div>
      <p class="hint">
        Cloud bills count UTC days and keep their own currency. <a href="/cloud?range=this_month">Cloud AI spend</a>
      </p>
    </section>
  );
}

export function OverviewPage({ view }: { view: OverviewView }) {
  return (
    <>
      <h1>Overview</h1>
      <p class="lead">Spend of {view.orgName}, from the calls metered by Outlay.</p>
      <GettingStarted view={view} />
      <SpendSummary spend={view.spend} />
      <SideBySide view={view} />
      {!view.empty && (
        <>
          <Trend view={view} />
          <Unpriced view={view} />
          <div class="top-grid">
            <TopTable id="top-models" title="Top models" rows={view.top.models} empty="No calls in the last 30 days." />
            <TopTable
              id="top-providers"
              title="Top providers"
              rows={view.top.providers}
              empty="No calls in the last 30 days."
            />
            <TopTable id="top-keys" title="Top keys" rows={view.top.keys} empty="No calls in the last 30 days." />
            <TopTable
              id="top-dims"
              title="Top dimension values"
              rows={view.top.dims}
              empty="No calls with dimensions in the last 30 days."
            />
          </div>
        </>
      )}
      <Refusals view={view} />
    </>
  );
}
