// Going on from a position (docs/cloud.md "Imports": an import is resumable within a file): for
// every place a reading offers, a new reading opened there gives exactly the events the first
// reading gave after it — CSV (BOM, CRLF, multi-byte UTF-8 at slice edges, quoted line breaks,
// invalid bytes), CSV.gz and Parquet, with bad rows counted across the stop.
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../../fixtures/cloud/cur2.ts";
import {
  bytesSource,
  openBill,
  type BillEvent,
  type OpenOptions,
  type ReadPosition,
} from "../../../workers/cloud/parse/index.ts";
import { gzip, utf8 } from "./collect.ts";

type Step = { event: BillEvent; position: ReadPosition | null };

async function read(bytes: Uint8Array, options: OpenOptions): Promise<Step[]> {
  const bill = await openBill(bytesSource(bytes), options);
  if ("code" in bill) throw new Error(`${bill.code}: ${bill.message}`);
  const steps: Step[] = [];
  for await (const event of bill.read()) steps.push({ event, position: bill.position() });
  return steps;
}

const events = (steps: readonly Step[]): BillEvent[] => steps.map((step) => step.event);

/**
 * Every place of a whole reading, gone on from: the rest must be what the whole reading gave
 * (the places after it may differ: slices are counted from where a reading starts). Then a reading
 * stopped at its first place each time and opened again there, as an import's parts do: the
 * same events in all. Answers the number of places.
 */
async function expectResumable(bytes: Uint8Array, options: OpenOptions = {}): Promise<number> {
  const whole = await read(bytes, options);
  const places = whole.flatMap((step, i) => (step.position === null ? [] : [i]));
  for (const i of places) {
    const rest = await read(bytes, { ...options, from: whole[i]?.position ?? undefined });
    expect(events(rest)).toEqual(events(whole.slice(i + 1)));
  }
  const stopped: BillEvent[] = [];
  let from: ReadPosition | undefined;
  for (let opened = 0; ; opened++) {
    expect(opened).toBeLessThanOrEqual(whole.length);
    const part = await read(bytes, { ...options, from });
    const stop = part.findIndex((step) => step.position !== null);
    stopped.push(...events(stop < 0 ? part : part.slice(0, stop + 1)));
    if (stop < 0) break;
    from = part[stop]?.position ?? undefined;
  }
  expect(stopped).toEqual(events(whole));
  return places.length;
}

/** `count` rows cycling through the fixtures, with a description that is multi-byte, quoted or long. */
function rows(count: number, bad: ReadonlySet<number> = new Set()): Cur2Row[] {
  const texts = ["Zürich “quoted” ✓", 'a "quoted"\nline break', "𝄞 four-byte", "plain", "x".repeat(300)];
  return Array.from({ length: count }, (_, i) => ({
    ...(CUR2_ROWS[i % CUR2_ROWS.length] as Cur2Row),
    line_item_line_item_description: texts[i % texts.length],
    ...(bad.has(i) ? { line_item_unblended_cost: "n/a" } : {}),
  }));
}

describe("a reading goes on from any place it offered", () => {
  it("CSV: many places, each giving the same rest (multi-byte characters cut at slice edges)", async () => {
    const bytes = utf8(toCsv(rows(60)));
    for (const sliceBytes of [97, 256, 1000]) {
      expect(await expectResumable(bytes, { sliceBytes })).toBeGreaterThan(5);
    }
  });

  it("CSV with a BOM and CRLF line breaks", async () => {
    const bytes = utf8(`\uFEFF${toCsv(rows(40)).replaceAll("\n", "\r\n")}`);
    expect(await expectResumable(bytes, { sliceBytes: 211 })).toBeGreaterThan(5);
  });

  it("CSV.gz: inflated again up to the place, the rest the same", async () => {
    const bytes = await gzip(utf8(toCsv(rows(50))));
    expect(await expectResumable(bytes, { sliceBytes: 333 })).toBeGreaterThan(5);
  });

  it("Parquet: from a slice's next row, within and across row groups", async () => {
    const bytes = new Uint8Array(toParquet(rows(47), { rowGroupSize: 20, pageSize: 64 }));
    expect(await expectResumable(bytes, { rowsPerRead: 6 })).toBeGreaterThan(5);
  });

  it("bad rows before the stop still count: the 1% rule and the listed warnings span it", async () => {
    const bad = new Set(Array.from({ length: 12 }, (_, i) => i * 5));
    const bytes = utf8(toCsv(rows(60, bad)));
    const whole = await read(bytes, { sliceBytes: 500 });
    expect(whole.at(-1)?.event).toMatchObject({ kind: "error", problem: { code: "too_many_bad_rows" } });
    expect(await expectResumable(bytes, { sliceBytes: 500 })).toBeGreaterThan(5);
  });

  it("a short last row after the stop is still the sign of a cut file", async () => {
    const text = toCsv(rows(30));
    const bytes = utf8(`${text}a,b,c\n\n\n`);
    const whole = await read(bytes, { sliceBytes: 300 });
    expect(whole.at(-1)?.event).toMatchObject({ kind: "error", problem: { code: "truncated", row: 31 } });
    await expectResumable(bytes, { sliceBytes: 300 });
  });

  it("offers no place where invalid bytes make the byte count unsure, and reads on past them", async () => {
    const text = toCsv(rows(30));
    const cut = text.indexOf("\n", text.length / 2) + 1;
    const bytes = new Uint8Array([...utf8(text.slice(0, cut)), 0xff, 0xfe, ...utf8(text.slice(cut))]);
    expect(await expectResumable(bytes, { sliceBytes: 150 })).toBeGreaterThan(3);
  });
});
