// Stored JSON is read back with a checked parser: what does not parse, or does not have the shape
// it was written with, is refused by name (a broken invariant), never passed on as if it were.
import { describe, expect, it } from "vitest";
import { StoredBudget, StoredDimensions, StoredPolicy } from "../../shared/rule-specs.ts";
import { parseStored } from "../../shared/stored-json.ts";

describe("parseStored", () => {
  it("answers what was stored", () => {
    expect(parseStored(StoredDimensions, '{"team":"search"}', "key dimensions")).toEqual({ team: "search" });
  });

  it("refuses text that is not JSON, naming what it was", () => {
    expect(() => parseStored(StoredDimensions, '{"team":', "key dimensions")).toThrow(
      "stored key dimensions is not JSON",
    );
  });

  it("refuses JSON of another shape, naming the field", () => {
    expect(() => parseStored(StoredDimensions, '{"team":7}', "key dimensions")).toThrow(
      /stored key dimensions is malformed: team/,
    );
    expect(() => parseStored(StoredDimensions, "null", "key dimensions")).toThrow(/malformed/);
  });

  it("reads a budget stored before thresholds and fail-open existed with their neutral defaults", () => {
    const old = { name: "b", scope: {}, window: { kind: "monthly" }, limitNano: "1000", mode: "block" };
    expect(parseStored(StoredBudget, JSON.stringify(old), "budget spec")).toEqual({
      ...old,
      thresholds: [],
      failOpen: false,
    });
  });

  it("refuses a rule spec whose window or mode is not one it could have been written with", () => {
    const bad = { name: "b", scope: {}, window: { kind: "hourly" }, limitNano: "1000", mode: "block" };
    expect(() => parseStored(StoredBudget, JSON.stringify(bad), "budget spec")).toThrow(/malformed: window/);
    const policy = {
      name: "p",
      keyId: null,
      allowModels: null,
      denyModels: "gpt-*",
      allowProviders: null,
      denyProviders: [],
    };
    expect(() => parseStored(StoredPolicy, JSON.stringify(policy), "policy spec")).toThrow(/malformed: denyModels/);
  });
});
