import { describe, expect, it } from "vitest";
import { decimalNumberToScaled, divideRounded, formatDecimal, formatUsd, parseDecimal } from "../../shared/money.ts";

describe("money", () => {
  it("parses decimal strings exactly at nine decimals", () => {
    expect(parseDecimal("2.5")).toBe(2_500_000_000n);
    expect(parseDecimal("0.0375")).toBe(37_500_000n);
    expect(parseDecimal("0.000000001")).toBe(1n);
    expect(parseDecimal("15")).toBe(15_000_000_000n);
  });

  it("refuses what is not a plain non-negative decimal or loses precision", () => {
    for (const bad of ["-1", "1e3", "abc", "", "1.", ".5", "0.0000000001"]) expect(parseDecimal(bad)).toBeNull();
  });

  it("turns catalog numbers into exact integers without binary noise", () => {
    expect(decimalNumberToScaled(0.075)).toBe(75_000_000n);
    expect(decimalNumberToScaled(1.1)).toBe(1_100_000_000n);
    expect(decimalNumberToScaled(0.3)).toBe(300_000_000n);
    expect(decimalNumberToScaled(3.75)).toBe(3_750_000_000n);
    expect(decimalNumberToScaled(Number.NaN)).toBeNull();
    expect(decimalNumberToScaled(-1)).toBeNull();
  });

  it("formats exactly", () => {
    expect(formatDecimal(2_500_000_000n)).toBe("2.5");
    expect(formatUsd(3_250_000n)).toBe("0.003250000");
    expect(formatUsd(123_456_789_012_345_678_901n)).toBe("123456789012.345678901");
    expect(formatUsd(-5n)).toBe("-0.000000005");
  });

  it("rounds half up", () => {
    expect(divideRounded(15n, 10n)).toBe(2n);
    expect(divideRounded(14n, 10n)).toBe(1n);
    expect(divideRounded(0n, 10n)).toBe(0n);
  });
});
