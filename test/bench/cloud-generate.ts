// Generated CUR 2.0 bills for the cloud-bill benchmark (docs/benchmarks.md, "Cloud bills"): one
// month of cloud-org.ts's organisation, every resource one line per hour, then the month's tax,
// credit and refund lines. Written as CSV.gz (streamed through zlib, never held) and as its
// Parquet twin (the same rows in the same order, row group by row group with hyparquet-writer),
// with the generator's own exact sum of the costs as the intake must round them (nano-units, half
// away from zero at the 9th decimal), in bigint. Files are kept in a temp dir keyed by their
// spec, so a second run reuses them.
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { createGzip, gzipSync } from "node:zlib";
import { ParquetWriter } from "hyparquet-writer";
import { fileWriter } from "hyparquet-writer/src/node.js";
import { CUR2_COLUMNS } from "../fixtures/cloud/cur2.ts";
import { COLUMN_INDEX, monthEndLines, prng, type Resource, resources } from "./cloud-org.ts";

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]["schema"][number];

/** Bump when the rows change, so cached files are not reused. */
const GENERATOR_VERSION = 1;
const HOUR_MS = 3_600_000;

export type BillSpec = { month: string; resources: number; seed: number };

export type GeneratedBill = {
  spec: BillSpec;
  csvGz: string;
  csvGzBytes: number;
  csvBytes: number;
  rows: number;
  /** the exact sum of the rounded costs, nano-USD, as a decimal string of the bigint */
  totalNano: string;
  parquet: string | null;
  parquetBytes: number;
  rowGroupSize: number;
  generatedMs: number;
};

const C = COLUMN_INDEX;

function tenDecimals(cost10: number): string {
  const sign = cost10 < 0 ? "-" : "";
  const abs = Math.abs(cost10);
  return `${sign}${Math.floor(abs / 1e10)}.${String(abs % 1e10).padStart(10, "0")}`;
}

/** What the intake keeps of a cost with 10 decimals: nano-units, half away from zero. */
export function roundedNano(cost10: number): number {
  return cost10 >= 0 ? Math.trunc((cost10 + 5) / 10) : -Math.trunc((-cost10 + 5) / 10);
}

type Row = { cells: string[]; escaped: string[]; cost10: number; start: number; end: number };

/** Every row of the month in file order. */
function* rowsOf(spec: BillSpec): Generator<Row> {
  const [y, m] = spec.month.split("-").map(Number) as [number, number];
  const first = Date.UTC(y, m - 1, 1);
  const hours = (Date.UTC(y, m, 1) - first) / HOUR_MS;
  const list = resources(spec.month, spec.resources, spec.seed);
  const random = prng(spec.seed ^ 0x5eed);
  const id = (): string => {
    let s = "";
    for (let i = 0; i < 8; i++) s += ((random() * 4_294_967_296) >>> 0).toString(32).padStart(7, "0");
    return s.slice(0, 52);
  };
  const make = (r: Resource, start: number, vary: boolean): Row => {
    const cells = r.cells.slice();
    const escaped = r.escaped.slice();
    const set = (col: number, value: string): void => {
      cells[col] = value;
      escaped[col] = value;
    };
    const startIso = new Date(start).toISOString();
    const endIso = new Date(start + HOUR_MS).toISOString();
    const factor = vary ? 0.8 + 0.4 * random() : 1;
    const cost10 = vary ? Math.max(1, Math.round(r.cost10 * factor)) : r.cost10;
    set(C.identity_line_item_id, id());
    set(C.identity_time_interval, `${startIso.replace(".000", "")}/${endIso.replace(".000", "")}`);
    set(C.line_item_usage_start_date, startIso);
    set(C.line_item_usage_end_date, endIso);
    const amount = r.amount * factor;
    const cost = tenDecimals(cost10);
    const rate = amount > 0 ? (cost10 / 1e10 / amount).toFixed(10) : "";
    set(C.line_item_usage_amount, amount.toFixed(10));
    set(C.line_item_unblended_rate, rate);
    set(C.line_item_unblended_cost, cost);
    set(C.line_item_blended_rate, rate);
    set(C.line_item_blended_cost, cost);
    set(C.line_item_net_unblended_cost, cost);
    set(C.pricing_public_on_demand_cost, cost);
    if (cells[C.line_item_line_item_type] === "SavingsPlanCoveredUsage") {
      set(C.savings_plan_savings_plan_effective_cost, tenDecimals(Math.round(cost10 * 0.72)));
    }
    return { cells, escaped, cost10, start, end: start + HOUR_MS };
  };
  for (let h = 0; h < hours; h++) {
    const start = first + h * HOUR_MS;
    for (const r of list) yield make(r, start, true);
  }
  for (const r of monthEndLines(spec.month)) yield make(r, first, false);
}

/** CSV bytes per row of a spec's first rows after gzip (to size a bill to a target). */
export function gzBytesPerRow(month: string, seed: number): number {
  const spec = { month, resources: 2_000, seed };
  const lines: string[] = [];
  for (const row of rowsOf(spec)) {
    lines.push(row.escaped.join(","));
    if (lines.length >= 20_000) break;
  }
  return gzipSync(`${lines.join("\n")}\n`).byteLength / lines.length;
}

/** Resources needed for a month's CSV.gz to be about `bytes`. */
export function resourcesFor(bytes: number, month: string, seed: number): number {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const hours = (Date.UTC(y, m, 1) - Date.UTC(y, m - 1, 1)) / HOUR_MS;
  return Math.max(1, Math.round(bytes / (gzBytesPerRow(month, seed) * hours)));
}

async function writeCsvGz(spec: BillSpec, path: string): Promise<{ rows: number; total: bigint; csvBytes: number }> {
  const gzip = createGzip({ level: 6 });
  const file = createWriteStream(path);
  gzip.pipe(file);
  const closed = once(file, "close");
  let buffer: string[] = [CUR2_COLUMNS.join(",")];
  let bufferChars = 0;
  let rows = 0;
  let csvBytes = 0;
  let total = 0n;
  let partial = 0;
  const write = async (chunk: string): Promise<void> => {
    csvBytes += Buffer.byteLength(chunk);
    if (!gzip.write(chunk)) await once(gzip, "drain");
  };
  for (const row of rowsOf(spec)) {
    const line = row.escaped.join(",");
    buffer.push(line);
    bufferChars += line.length + 1;
    rows += 1;
    partial += roundedNano(row.cost10);
    if (rows % 1_000 === 0) {
      total += BigInt(partial);
      partial = 0;
    }
    if (bufferChars >= 1 << 20) {
      await write(`${buffer.join("\n")}\n`);
      buffer = [];
      bufferChars = 0;
    }
  }
  total += BigInt(partial);
  if (buffer.length > 0) await write(`${buffer.join("\n")}\n`);
  gzip.end();
  await closed;
  return { rows, total, csvBytes };
}

const TIMESTAMPS = new Set<number>([C.line_item_usage_start_date, C.line_item_usage_end_date]);
const DECIMAL = C.line_item_unblended_cost;
const DOUBLE = C.line_item_blended_cost;

function parquetSchema(): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: "root", num_children: CUR2_COLUMNS.length }];
  for (const [i, name] of CUR2_COLUMNS.entries()) {
    if (TIMESTAMPS.has(i)) {
      schema.push({ name, type: "INT64", converted_type: "TIMESTAMP_MILLIS", repetition_type: "OPTIONAL" });
    } else if (i === DECIMAL) {
      schema.push({
        name,
        type: "FIXED_LEN_BYTE_ARRAY",
        type_length: 16,
        converted_type: "DECIMAL",
        precision: 38,
        scale: 10,
        repetition_type: "OPTIONAL",
      });
    } else if (i === DOUBLE) {
      schema.push({ name, type: "DOUBLE", repetition_type: "OPTIONAL" });
    } else {
      schema.push({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
    }
  }
  return schema;
}

/** The Parquet twin, `rowGroupSize` rows per row group; only one row group's columns are held. */
function writeParquet(spec: BillSpec, path: string, rowGroupSize: number): number {
  const writer = new ParquetWriter({ writer: fileWriter(path), schema: parquetSchema() });
  let columns: unknown[][] = CUR2_COLUMNS.map(() => []);
  let inGroup = 0;
  let rows = 0;
  const flush = (): void => {
    if (inGroup === 0) return;
    const columnData = CUR2_COLUMNS.map((name, i) => ({ name, data: columns[i] ?? [] }));
    void writer.write({ columnData, rowGroupSize: inGroup });
    columns = CUR2_COLUMNS.map(() => []);
    inGroup = 0;
  };
  for (const row of rowsOf(spec)) {
    for (let i = 0; i < row.cells.length; i++) {
      const text = row.cells[i] ?? "";
      const column = columns[i] as unknown[];
      if (text === "") column.push(null);
      else if (i === DECIMAL) column.push(BigInt(row.cost10));
      else if (i === DOUBLE) column.push(row.cost10 / 1e10);
      else if (TIMESTAMPS.has(i)) column.push(new Date(i === C.line_item_usage_start_date ? row.start : row.end));
      else column.push(text);
    }
    inGroup += 1;
    rows += 1;
    if (inGroup === rowGroupSize) flush();
  }
  flush();
  void writer.finish();
  return rows;
}

function cacheDir(spec: BillSpec, rowGroupSize: number): string {
  const key = `v${GENERATOR_VERSION}-${spec.month}-r${spec.resources}-s${spec.seed}-g${rowGroupSize}`;
  return join(process.env.BENCH_CLOUD_CACHE ?? join(tmpdir(), "outlay-bench-cloud"), key);
}

/** The month's CSV.gz and, when `rowGroupSize` > 0, its Parquet twin; reused from the cache dir when an earlier run made them. */
export async function generateBill(
  spec: BillSpec,
  rowGroupSize: number,
  log: (s: string) => void,
): Promise<GeneratedBill> {
  const dir = cacheDir(spec, rowGroupSize);
  const manifest = join(dir, "manifest.json");
  if (existsSync(manifest)) {
    const cached = JSON.parse(readFileSync(manifest, "utf8")) as GeneratedBill;
    log(`reusing ${cached.rows.toLocaleString("en")} generated rows in ${dir}`);
    return cached;
  }
  mkdirSync(dir, { recursive: true });
  const began = Date.now();
  const csvGz = join(dir, "bill.csv.gz");
  const { rows, total, csvBytes } = await writeCsvGz(spec, `${csvGz}.part`);
  renameSync(`${csvGz}.part`, csvGz);
  log(
    `CSV.gz: ${rows.toLocaleString("en")} rows, ${(statSync(csvGz).size / 1e6).toFixed(0)} MB (${((Date.now() - began) / 1000).toFixed(0)} s)`,
  );
  let parquet: string | null = null;
  if (rowGroupSize > 0) {
    parquet = join(dir, "bill.parquet");
    const twinRows = writeParquet(spec, `${parquet}.part`, rowGroupSize);
    if (twinRows !== rows) throw new Error(`Parquet twin has ${twinRows} rows, the CSV ${rows}`);
    renameSync(`${parquet}.part`, parquet);
    log(
      `Parquet twin: ${(statSync(parquet).size / 1e6).toFixed(0)} MB (${((Date.now() - began) / 1000).toFixed(0)} s in all)`,
    );
  }
  const bill: GeneratedBill = {
    spec,
    csvGz,
    csvGzBytes: statSync(csvGz).size,
    csvBytes,
    rows,
    totalNano: total.toString(),
    parquet,
    parquetBytes: parquet ? statSync(parquet).size : 0,
    rowGroupSize,
    generatedMs: Date.now() - began,
  };
  writeFileSync(manifest, `${JSON.stringify(bill, null, 2)}\n`);
  return bill;
}
