// /cloud: Cloud AI spend (issue 14 §4) — AI spend from imported cloud bills by category over time,
// Bedrock by model and token type, GPU by instance type and account, credits and tax apart; each
// currency on its own (never added to another). Then the import history (its rows:
// components/cloud-imports.tsx) and the upload form: a plain multipart form post for files up to
// 100 MiB, and with web/static/cloud-upload.js any size, sent in parts.
import { BarChart, TimeChart, type Bar, type ChartFormat, type TimePoint } from "../components/chart.tsx";
import { CsrfField, Field, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";
import { ImportsTable, type ImportItem } from "../components/cloud-imports.tsx";

export type PageNotice = { kind: "ok" | "error" | "warn"; text: string };

export type CategorySeries = { category: string; label: string; total: string; points: TimePoint[] };

/** One currency's figures: amounts already formatted, bars and points in nano-units of it. */
export type CurrencyFigures = {
  currency: string;
  format: ChartFormat;
  aiTotal: string;
  credits: string;
  tax: string;
  series: CategorySeries[];
  models: { model: string; tokenType: string; cost: string; usage: string }[];
  modelBars: Bar[];
  gpu: { instanceType: string; account: string; cost: string }[];
  gpuBars: Bar[];
};

export type RangeView = {
  from: string;
  to: string;
  label: string;
  byMonth: boolean;
  presets: { href: string; label: string; current: boolean }[];
  error: string | null;
};

export type CloudView = {
  csrf: string;
  mayWrite: boolean;
  maxFormMiB: number;
  range: RangeView;
  currencies: CurrencyFigures[];
  imports: ImportItem[];
  uploadScript: string;
  /** the AWS connector's state, in words */
  connector: string;
};

function Range({ r }: { r: RangeView }) {
  return (
    <>
      <nav class="presets" aria-label="Time range presets">
        <span class="hint">Range:</span>
        {r.presets.map((p) => (
          <a href={p.href} aria-current={p.current ? "true" : undefined}>
            {p.label}
          </a>
        ))}
      </nav>
      {r.error && <Notice kind="error">{r.error}</Notice>}
      <form class="usage-form" method="get" action="/cloud">
        <fieldset class="usage-fields">
          <legend>Time range (UTC days)</legend>
          <Field name="from" label="First day" type="date" value={r.from} required={false} />
          <Field name="to" label="Last day" type="date" value={r.to} required={false} />
        </fieldset>
        <button type="submit">Show</button>
      </form>
    </>
  );
}

function CurrencySection({ c, r }: { c: CurrencyFigures; r: RangeView }) {
  const id = c.currency.toLowerCase();
  return (
    <section class="card" aria-labelledby={`ai-${id}-h`}>
      <h2 id={`ai-${id}-h`}>AI spend in {c.currency}</h2>
      <div class="figures">
        <div class="figure">
          <h3>AI spend</h3>
          <p class="figure-value">{c.aiTotal}</p>
          <p class="hint">{r.label}: Bedrock, SageMaker, GPU instances and other AI services; no credits or tax</p>
        </div>
        <div class="figure">
          <h3>Credits and refunds</h3>
          <p class="figure-value">{c.credits}</p>
          <p class="hint">on AI lines, not taken off the AI spend</p>
        </div>
        <div class="figure">
          <h3>Tax</h3>
          <p class="figure-value">{c.tax}</p>
          <p class="hint">on AI lines, not in the AI spend</p>
        </div>
      </div>
      <h3>By category, {r.byMonth ? "per month" : "per day"}</h3>
      {c.series.map((s) => (
        <>
          <h4>
            {s.label}: {s.total}
          </h4>
          <TimeChart
            id={`cat-${id}-${s.category}`}
            title={`${s.label}, ${c.currency}, ${r.byMonth ? "per month" : "per day"}`}
            desc={`${s.label}: ${s.total} ${r.label}.`}
            points={s.points}
            format={c.format}
          />
        </>
      ))}
      <Table caption={`AI spend in ${c.currency} by category, ${r.label}`} headers={["Category"]} numeric={["Spend"]}>
        {c.series.map((s) => (
          <tr>
            <th scope="row">{s.label}</th>
            <td class="num">{s.total}</td>
          </tr>
        ))}
      </Table>
      <h3>Bedrock by model and token type</h3>
      {c.models.length === 0 ? (
        <p class="empty">No Bedrock spend in this range.</p>
      ) : (
        <>
          <BarChart
            id={`models-${id}`}
            title={`Bedrock spend in ${c.currency} by model and token type`}
            desc={`Highest first, ${r.label}.`}
            bars={c.modelBars}
            format={c.format}
          />
          <Table
            caption={`Bedrock spend in ${c.currency} by model and token type, ${r.label}`}
            headers={["Model", "Token type"]}
            numeric={["Usage", "Spend"]}
          >
            {c.models.map((m) => (
              <tr>
                <th scope="row">{m.model}</th>
                <td>{m.tokenType}</td>
                <td class="num">{m.usage}</td>
                <td class="num">{m.cost}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
      <h3>GPU instances by instance type and account</h3>
      {c.gpu.length === 0 ? (
        <p class="empty">No GPU instance spend in this range.</p>
      ) : (
        <>
          <BarChart
            id={`gpu-${id}`}
            title={`GPU instance spend in ${c.currency} by instance type and account`}
            desc={`Highest first, ${r.label}.`}
            bars={c.gpuBars}
            format={c.format}
          />
          <Table
            caption={`GPU instance spend in ${c.currency} by instance type and account, ${r.label}`}
            headers={["Instance type", "Account"]}
            numeric={["Spend"]}
          >
            {c.gpu.map((g) => (
              <tr>
                <th scope="row">{g.instanceType}</th>
                <td>{g.account}</td>
                <td class="num">{g.cost}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}

const CURL = `curl -X POST "$OUTLAY/api/v1/cloud/imports?file_name=cur-2026-11.csv.gz" \\
  -H "authorization: Bearer $OUTLAY_ADMIN_TOKEN" \\
  -H "content-type: application/octet-stream" --data-binary @cur-2026-11.csv.gz`;

function Empty({ v }: { v: CloudView }) {
  return (
    <section class="card empty" aria-labelledby="empty-h">
      <h2 id="empty-h">No cloud bill yet</h2>
      <p>
        This page shows the AI spend that does not go through Outlay's proxy — Amazon Bedrock called directly,
        SageMaker, GPU instances, other AI services — read from your cloud bill: an AWS Cost and Usage Report (CUR 2.0
        or legacy) or a FOCUS export, as CSV, CSV.gz or Parquet. The format is detected; only sums per day are kept.
      </p>
      <p>
        {v.mayWrite ? "Upload a bill below" : "An owner or admin can upload a bill here"}, or send it with an admin
        token (the API and the multipart upload for large files are in <code>docs/cloud.md</code>, "API"):
      </p>
      <pre class="code">
        <code>{CURL}</code>
      </pre>
    </section>
  );
}

export function UploadForm({ v }: { v: CloudView }) {
  return (
    <section class="card" aria-labelledby="upload-h">
      <h2 id="upload-h">Upload a bill</h2>
      <form id="cloud-upload" method="post" action="/cloud/imports" enctype="multipart/form-data" data-cloud-upload="">
        <CsrfField token={v.csrf} />
        <label>
          Bill file
          <span class="hint">
            CUR 2.0, legacy CUR or FOCUS; CSV, CSV.gz or Parquet. Up to {v.maxFormMiB} MiB without JavaScript; with it,
            any size (sent in parts).
          </span>
          <input type="file" name="file" id="file" required />
        </label>
        <button type="submit">Upload and import</button>
        <p class="hint" id="cloud-upload-status" role="status" aria-live="polite" />
        <progress id="cloud-upload-progress" max="1" value="0" hidden aria-label="Upload progress" />
      </form>
    </section>
  );
}

export function CloudPage({ v, notice }: { v: CloudView; notice?: PageNotice }) {
  const empty = v.currencies.length === 0 && v.imports.length === 0;
  return (
    <>
      <h1>Cloud AI spend</h1>
      <p class="lead">
        AI spend from your cloud bills, beside what goes through the proxy. Amounts are in each bill's own currency;
        days are UTC.
      </p>
      {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
      {empty ? (
        <Empty v={v} />
      ) : (
        <>
          <Range r={v.range} />
          {v.currencies.length === 0 ? (
            <p class="empty">No AI spend in {v.range.label}. Pick another range, or import the bill that covers it.</p>
          ) : (
            v.currencies.map((c) => <CurrencySection c={c} r={v.range} />)
          )}
        </>
      )}
      <section class="card" aria-labelledby="connector-h">
        <h2 id="connector-h">AWS connector</h2>
        <p>
          {v.connector}. <a href="/cloud/aws">Set up or check the AWS connector</a>: Outlay reads your CUR 2.0 export
          daily through a read-only role.
        </p>
      </section>
      <section class="card" aria-labelledby="imports-h" id="imports">
        <h2 id="imports-h">Imports</h2>
        {v.imports.length === 0 ? (
          <p class="empty">No bill imported yet.</p>
        ) : (
          <ImportsTable imports={v.imports} caption="Latest imports, newest first" />
        )}
      </section>
      {v.mayWrite && <UploadForm v={v} />}
      {v.mayWrite && <script src={v.uploadScript} defer />}
    </>
  );
}

/** One import on its own page (its link in the history; the target of a no-JavaScript upload). */
export function ImportPage({ item }: { item: ImportItem }) {
  return (
    <>
      <h1>Import of {item.fileName}</h1>
      <ImportsTable imports={[item]} caption="The import" />
      <p>
        <a href="/cloud">Back to Cloud AI spend</a>
      </p>
    </>
  );
}

export function NoImportPage() {
  return (
    <>
      <h1>No such import</h1>
      <p>
        There is no such import in this organisation. <a href="/cloud">Back to Cloud AI spend</a>
      </p>
    </>
  );
}
