// Rows per second of the bill parser on a generated CUR 2.0 file (not a test; a quick figure for
// workers/cloud/parse/README.md). Run: ./node_modules/.bin/node test/cloud/parse/measure.ts [rows]
// [formats, comma-separated: csv,csv.gz,parquet]
import { gzipSync } from "node:zlib";
import { CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../../fixtures/cloud/cur2.ts";
import { bytesSource, openBill } from "../../../workers/cloud/parse/index.ts";

const count = Number(process.argv[2] ?? 100_000);

function generated(n: number): Cur2Row[] {
  return Array.from({ length: n }, (_, i) => {
    const row = CUR2_ROWS[i % CUR2_ROWS.length] as Cur2Row;
    const day = String(1 + (i % 28)).padStart(2, "0");
    const hour = String(i % 24).padStart(2, "0");
    return {
      ...row,
      identity_line_item_id: `li-${i.toString(36).padStart(10, "0")}`,
      identity_time_interval: `2025-06-${day}T${hour}:00:00Z/2025-06-${day}T${hour}:59:59Z`,
      line_item_usage_start_date: `2025-06-${day}T${hour}:00:00.000Z`,
      line_item_usage_end_date: `2025-06-${day}T${hour}:59:59.000Z`,
      line_item_resource_id: `arn:aws:ec2:us-east-1:444455556666:instance/i-${(i * 2654435761).toString(16).padStart(17, "0")}`,
      line_item_unblended_cost: `${i % 97}.${String((i * 7919) % 10_000_000_000).padStart(10, "0")}`,
      line_item_blended_cost: `${i % 97}.${String((i * 104729) % 10_000_000_000).padStart(10, "0")}`,
      resource_tags: JSON.stringify({ "user:team": `team-${i % 40}`, "user:env": i % 3 === 0 ? "prod" : "dev" }),
    };
  });
}

async function measure(label: string, bytes: Uint8Array): Promise<void> {
  const started = performance.now();
  const bill = await openBill(bytesSource(bytes));
  if ("code" in bill) throw new Error(bill.message);
  let lines = 0;
  let other = 0;
  for await (const event of bill.read()) {
    if (event.kind === "line") lines += 1;
    else other += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const rss = Math.round(process.memoryUsage().rss / 1048576);
  process.stdout.write(
    `${label}: ${lines} lines (${other} other events), ${(bytes.byteLength / 1048576).toFixed(1)} MB, ${seconds.toFixed(2)} s, ${Math.round(lines / seconds)} rows/s, rss ${rss} MB\n`,
  );
}

const formats = new Set((process.argv[3] ?? "csv,csv.gz,parquet").split(","));
const rows = generated(count);
const csv = new TextEncoder().encode(toCsv(rows));
const gz = new Uint8Array(gzipSync(csv));
const parquet = new Uint8Array(toParquet(rows, { rowGroupSize: 20_000 }));
if (formats.has("csv")) await measure("CUR 2.0 CSV", csv);
if (formats.has("csv.gz")) await measure("CUR 2.0 CSV.gz", gz);
if (formats.has("parquet")) await measure("CUR 2.0 Parquet", parquet);
