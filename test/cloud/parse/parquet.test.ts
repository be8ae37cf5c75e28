// Parquet reading in slices within a row group (workers/cloud/parse/parquet.ts): with offset
// indexes (hyparquet-writer writes them), a row group is read ROWS_PER_READ rows at a time; the
// rows must be the same as reading it whole, in order, numbered from the file's start.
import { describe, expect, it } from "vitest";
import { bytesSource } from "../../../workers/cloud/parse/index.ts";
import { openParquet } from "../../../workers/cloud/parse/parquet.ts";
import type { RowEvent } from "../../../workers/cloud/parse/rows.ts";
import { CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../../fixtures/cloud/cur2.ts";
import { toParquetInt96 } from "../../fixtures/cloud/int96.ts";
import { readOpened, utf8 } from "./collect.ts";

async function events(bytes: Uint8Array, rowsPerRead: number): Promise<RowEvent[]> {
  const file = await openParquet(bytesSource(bytes), rowsPerRead);
  if ("code" in file) throw new Error(file.message);
  const out: RowEvent[] = [];
  for await (const event of file.rows(["line_item_usage_type", "line_item_unblended_cost", "product_instance_type"]))
    out.push(event);
  return out;
}

describe("Parquet row slices", () => {
  it("gives the same rows, numbered from the file's start, whatever the slice size", async () => {
    const rows = Array.from({ length: 47 }, (_, i) => CUR2_ROWS[i % CUR2_ROWS.length] as Cur2Row);
    const bytes = new Uint8Array(toParquet(rows, { rowGroupSize: 20, pageSize: 64 }));
    const whole = await events(bytes, 1_000_000);
    expect(whole.map((event) => (event.kind === "row" ? event.row : 0))).toEqual(
      Array.from({ length: 47 }, (_, i) => i + 1),
    );
    expect(whole[5]).toEqual({
      kind: "row",
      row: 6,
      cells: ["USE1-Host:ml.g5.2xlarge", "1.5150000000", "ml.g5.2xlarge"],
    });
    for (const size of [1, 3, 7, 19, 20, 21]) {
      expect(await events(bytes, size)).toEqual(whole);
    }
  });
});

describe("Parquet INT96 timestamps", () => {
  it("reads INT96 usage dates to the same lines as the CSV", async () => {
    const csv = await readOpened(utf8(toCsv(CUR2_ROWS)));
    const parquet = await readOpened(new Uint8Array(toParquetInt96(CUR2_ROWS)));
    expect(parquet.warnings).toEqual([]);
    expect(parquet.lines).toEqual(csv.lines);
  });
});
