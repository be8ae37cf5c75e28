// Files that are not (whole) bills: each answers a problem value with a code, a message and,
// where it has one, the row and column; nothing throws.
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../../fixtures/cloud/cur2.ts";
import { gzip, open, readAll, readOpened, utf8 } from "./collect.ts";

const csvText = toCsv(CUR2_ROWS);

function withCost(row: Cur2Row, cost: string): Cur2Row {
  return { ...row, line_item_unblended_cost: cost };
}

/** `count` rows cycling through the fixtures, the rows at `bad` (0-based) with a cost of "n/a". */
function rowsWithBadCosts(count: number, bad: ReadonlySet<number>): Cur2Row[] {
  return Array.from({ length: count }, (_, i) => {
    const row = CUR2_ROWS[i % CUR2_ROWS.length] as Cur2Row;
    return bad.has(i) ? withCost(row, "n/a") : row;
  });
}

describe("not a bill", () => {
  it.each([
    ["an empty file", "empty", new Uint8Array(0)],
    ["only blank lines", "empty", utf8("\n\r\n  \n")],
    ["HTML", "not_a_bill", utf8("<!doctype html><html><body>Sign in</body></html>")],
    ["JSON", "not_a_bill", utf8('{"line_item_unblended_cost": 1}')],
    ["random bytes", "not_a_bill", Uint8Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) % 256)],
    ["a header no schema has", "unknown_schema", utf8("date,amount,memo\n2025-01-01,3.50,coffee\n")],
  ])("%s → %s", async (_name, code, bytes) => {
    const opened = await open(bytes);
    expect("code" in opened ? opened.code : "opened").toBe(code);
  });

  it("names what the closest schema lacks", async () => {
    const opened = await open(utf8("BilledCost,BillingCurrency,ChargeCategory\n1,USD,Usage\n"));
    expect(opened).toMatchObject({ code: "unknown_schema", row: null, column: null });
    expect("message" in opened ? opened.message : "").toContain(
      "FOCUS, which also needs: ProviderName or ServiceProviderName, BillingPeriodStart",
    );
  });

  it("a header without rows opens and reads no lines, no warnings, no error", async () => {
    const read = await readOpened(utf8(toCsv([]).trimEnd()));
    expect([read.bill.schema, read.lines, read.warnings, read.error]).toEqual(["cur2", [], [], null]);
  });

  it("gzip of HTML is not a bill either", async () => {
    const opened = await open(await gzip(utf8("<html><body>Access Denied</body></html>")));
    expect("code" in opened ? opened.code : "opened").toBe("not_a_bill");
  });
});

describe("truncated files", () => {
  it("a gzip stream cut short ends in `truncated`", async () => {
    const whole = await gzip(utf8(csvText.repeat(20)));
    const read = await readAll(whole.subarray(0, Math.floor(whole.byteLength * 0.7)));
    const code = "code" in read ? read.code : read.error?.code;
    expect(code).toBe("truncated");
  });

  it("a gzip cut inside its first bytes does not open", async () => {
    const whole = await gzip(utf8(csvText));
    const read = await readAll(whole.subarray(0, 12));
    expect("code" in read ? read.code : read.error?.code).toBe("truncated");
  });

  it("a CSV whose last row lacks fields ends in `truncated` with that row, after the whole rows", async () => {
    const cut = csvText.slice(0, csvText.lastIndexOf("\n", csvText.length - 2) + 1) + "a,b,c";
    const read = await readOpened(utf8(cut));
    expect(read.lines).toHaveLength(CUR2_ROWS.length - 1);
    expect(read.error).toMatchObject({ code: "truncated", row: CUR2_ROWS.length });
  });

  it("a short last row followed only by blank lines is still `truncated`", async () => {
    const cut = `${csvText.slice(0, csvText.lastIndexOf("\n", csvText.length - 2) + 1)}a,b,c\n\n\n`;
    const read = await readOpened(utf8(cut));
    expect(read.error).toMatchObject({ code: "truncated", row: CUR2_ROWS.length });
  });

  it("a CSV cut inside a quoted field ends in `truncated`", async () => {
    // row 4's description is quoted and holds a line break; cut right after its opening quote
    const cut = csvText.slice(0, csvText.indexOf('"cache write') + 3);
    const read = await readOpened(utf8(cut));
    expect(read.lines).toHaveLength(3);
    expect(read.error).toMatchObject({ code: "truncated", row: 4 });
  });

  it("a CSV cut inside its last column's quoted value ends in `truncated`, though the row has every field", async () => {
    const rows = CUR2_ROWS.map((row) => ({ ...row, resource_tags: '{"user:team": "ml", "user:env": "prod"}' }));
    const text = toCsv(rows);
    const cut = text.slice(0, text.lastIndexOf("user:env"));
    const read = await readOpened(utf8(cut));
    expect(read.lines).toHaveLength(CUR2_ROWS.length - 1);
    expect(read.error).toMatchObject({ code: "truncated", row: CUR2_ROWS.length });
  });

  it("a Parquet file without its footer is `truncated`; a damaged footer is `not_a_bill`", async () => {
    const whole = new Uint8Array(toParquet(CUR2_ROWS));
    const cut = await open(whole.subarray(0, whole.byteLength - 100));
    expect("code" in cut ? cut.code : "opened").toBe("truncated");
    const damaged = whole.slice();
    damaged.fill(0xff, damaged.byteLength - 60, damaged.byteLength - 8);
    const opened = await open(damaged);
    expect("code" in opened ? opened.code : "opened").toBe("not_a_bill");
  });
});

describe("bad rows", () => {
  it("a few bad cells are warnings with row and column; the rows are skipped", async () => {
    const rows = rowsWithBadCosts(400, new Set([4, 250]));
    rows[100] = { ...(rows[100] as Cur2Row), line_item_usage_start_date: "yesterday" };
    const read = await readOpened(utf8(toCsv(rows)));
    expect(read.error).toBeNull();
    expect(read.lines).toHaveLength(397);
    expect(read.warnings.map(({ code, row, column }) => ({ code, row, column }))).toEqual([
      { code: "bad_row", row: 5, column: "line_item_unblended_cost" },
      { code: "bad_row", row: 101, column: "line_item_usage_start_date" },
      { code: "bad_row", row: 251, column: "line_item_unblended_cost" },
    ]);
  });

  it("a bad cost cell in Parquet is a warning with row and column too", async () => {
    const rows = rowsWithBadCosts(30, new Set([12]));
    const read = await readOpened(new Uint8Array(toParquet(rows, { rowGroupSize: 7, cost: "string" })));
    expect(read.lines).toHaveLength(29);
    expect(read.warnings.map(({ code, row, column }) => ({ code, row, column }))).toEqual([
      { code: "bad_row", row: 13, column: "line_item_unblended_cost" },
    ]);
  });

  it("a longer Parquet twin in uneven row groups gives the CSV's lines", async () => {
    const rows = rowsWithBadCosts(30, new Set());
    const csv = await readOpened(utf8(toCsv(rows)));
    const parquet = await readOpened(new Uint8Array(toParquet(rows, { rowGroupSize: 7 })));
    expect(parquet.lines).toEqual(csv.lines);
  });

  it("a row with fewer fields in the middle is a warning, not the end of the file", async () => {
    const lines = csvText.split("\n");
    lines.splice(3, 0, "only,three,fields");
    const read = await readOpened(utf8(lines.join("\n")));
    expect(read.error).toBeNull();
    expect(read.warnings).toMatchObject([{ code: "bad_row", row: 3 }]);
    expect(read.lines).toHaveLength(CUR2_ROWS.length);
  });

  it("a malformed quoted field is a warning for its row; the next rows are read", async () => {
    const lines = csvText.split("\n");
    lines[2] = (lines[2] ?? "").replace("InvokeModelInference", '"Invoke"Model');
    const read = await readOpened(utf8(lines.join("\n")));
    expect(read.error).toBeNull();
    expect(read.warnings).toMatchObject([{ code: "bad_row", row: 2, message: "Row 2 has a malformed quoted field." }]);
    expect(read.lines.map((line) => line.row)).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it("more than 1% bad rows (and at least 10) fail the file", async () => {
    const tenOfThousand = await readOpened(
      utf8(toCsv(rowsWithBadCosts(1000, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])))),
    );
    expect(tenOfThousand.error).toBeNull();
    const elevenOfThousand = await readOpened(
      utf8(toCsv(rowsWithBadCosts(1000, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])))),
    );
    expect(elevenOfThousand.error).toMatchObject({ code: "too_many_bad_rows" });
    const nineOfTwenty = await readOpened(utf8(toCsv(rowsWithBadCosts(20, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9])))));
    expect(nineOfTwenty.error).toBeNull();
  });

  it("lists at most 100 warnings, then one that counts the rest", async () => {
    const bad = new Set(Array.from({ length: 150 }, (_, i) => i * 2));
    const read = await readOpened(utf8(toCsv(rowsWithBadCosts(300, bad))));
    expect(read.warnings).toHaveLength(101);
    expect(read.warnings.at(-1)?.message).toContain("50 more bad rows");
    expect(read.error).toMatchObject({ code: "too_many_bad_rows" });
  });
});
