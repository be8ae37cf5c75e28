// Decimal text to nano-units (workers/cloud/parse/money.ts): exact, rounded half away from zero
// at the 9th decimal, exponent forms, signs; anything else is not a number.
import { describe, expect, it } from "vitest";
import { parseNano } from "../../../workers/cloud/parse/money.ts";
import { parseTimestamp } from "../../../workers/cloud/parse/time.ts";

describe("parseNano", () => {
  it.each([
    ["0", 0n],
    ["1", 1_000_000_000n],
    ["0.0000000004", 0n],
    ["0.0000000005", 1n],
    ["-0.0000000005", -1n],
    ["0.0000000015", 2n],
    ["12.3456789012", 12_345_678_901n],
    ["-12.3456789016", -12_345_678_902n],
    ["+3.5", 3_500_000_000n],
    [".5", 500_000_000n],
    ["-.25", -250_000_000n],
    ["5.", 5_000_000_000n],
    ["1.5E-7", 150n],
    ["1.5e-10", 0n],
    ["2.5E-9", 3n],
    ["4E+2", 400_000_000_000n],
    ["1e3", 1_000_000_000_000n],
    ["0.00000080000", 800n],
    ["98765432109876.123456789", 98_765_432_109_876_123_456_789n],
  ])("%s → %s nano", (text, nano) => {
    expect(parseNano(text)).toBe(nano);
  });

  it.each([
    "",
    "-",
    "+",
    ".",
    "abc",
    "1.2.3",
    "1,5",
    "1e",
    "1e+",
    "E5",
    "NaN",
    "Infinity",
    "0x10",
    "1 ",
    "1e999",
    "$1",
  ])("%j is not a number", (text) => {
    expect(parseNano(text)).toBeNull();
  });

  it("sums 10-decimal costs exactly where floats drift", () => {
    // 0.1000000001 × 10 = 1.000000001 exactly (as nano: 100000000 each, since the 10th digit rounds down)
    const costs = Array.from({ length: 10 }, () => "0.1000000001");
    expect(costs.reduce((sum, cost) => sum + (parseNano(cost) ?? 0n), 0n)).toBe(1_000_000_000n);
    expect(["0.1", "0.2"].reduce((sum, cost) => sum + (parseNano(cost) ?? 0n), 0n)).toBe(300_000_000n);
  });
});

describe("parseTimestamp", () => {
  it.each([
    ["2024-09-01 00:00:00", Date.UTC(2024, 8, 1)],
    ["2023-11-01T00:00:00.000Z", Date.UTC(2023, 10, 1)],
    ["2023-11-01T00:00:00Z", Date.UTC(2023, 10, 1)],
    ["2023-11-01T12:34:56.789Z", Date.UTC(2023, 10, 1, 12, 34, 56, 789)],
    ["2023-11-01T02:00:00+02:00", Date.UTC(2023, 10, 1)],
    ["2023-11-01", Date.UTC(2023, 10, 1)],
  ])("%s", (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it.each([
    "",
    "2023-13-01",
    "2023-02-30T00:00:00Z",
    "01/11/2023",
    "2023-11-01T25:00:00Z",
    "2023-11-01Tnoon",
    "2023-11-01T00:00:00Q",
  ])("%j is not a timestamp", (text) => {
    expect(parseTimestamp(text)).toBeNull();
  });
});
