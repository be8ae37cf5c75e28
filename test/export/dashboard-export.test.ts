// The activity page's downloads (/activity/export, issue 13 §3): the links carry the page's
// category and days; they answer, for a signed-in viewer, every event of the category's types in
// those days (the same events the page lists, by the same service as the API's export); a
// signed-out browser is sent to sign in; a person of another organisation gets only their own;
// a bad choice answers 400. Also: an admin token of the viewer role may export.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { AUDIT_TYPES, type AuditEvent } from "../../shared/audit.ts";
import { auditEventsBefore, tenantDb } from "../../workers/store/index.ts";
import { browser, createToken, addMember, newOrg, type Org, type Person } from "../auth/orgs.ts";
import { apiCall } from "../helpers.ts";
import { auditEvent, EPOCH_2001, readCsv, readNdjson, seedAudit, V1Event } from "./support.ts";

const CATEGORIES = ["decisions", "changes", "calls", "access"] as const;
const DAY = 86_400_000;

function unescape(html: string): string {
  return html.replaceAll("&amp;", "&");
}

describe("/activity/export", () => {
  let org: Org;
  let viewer: Person;
  let seeded: AuditEvent[];

  beforeAll(async () => {
    org = await newOrg("Export");
    viewer = await addMember(org, "viewer");
    // Three events of every type on 2001-01-01 (UTC, the organisation's zone), and one of every
    // type on 2001-01-03, outside the days chosen below.
    seeded = [
      ...Array.from({ length: AUDIT_TYPES.length * 3 }, (_, i) =>
        auditEvent(org.tenantId, i + 1, { type: AUDIT_TYPES[i % AUDIT_TYPES.length], at: EPOCH_2001 + i * 1000 }),
      ),
      ...AUDIT_TYPES.map((type, i) =>
        auditEvent(org.tenantId, 1000 + i, { type, at: EPOCH_2001 + 2 * DAY + i * 1000 }),
      ),
    ];
    await seedAudit(org.tenantId, seeded);
  });

  it("links the page's category and days as CSV and NDJSON", async () => {
    const page = await viewer.b.get("/activity?category=changes&from=2001-01-01&to=2001-01-02");
    expect(page.status).toBe(200);
    const html = unescape(page.html);
    expect(html).toContain('href="/activity/export?category=changes&from=2001-01-01&to=2001-01-02&format=csv"');
    expect(html).toContain('href="/activity/export?category=changes&from=2001-01-01&to=2001-01-02&format=ndjson"');
    expect(html).toMatch(/>\s*Download CSV\s*</);
    expect(html).toMatch(/>\s*Download NDJSON\s*</);
  });

  it("answers a signed-in viewer every event of the category in those days, oldest first", async () => {
    const csv = await viewer.b.get("/activity/export?category=decisions&from=2001-01-01&to=2001-01-02&format=csv");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="outlay-audit-${org.tenantId}-\\d{8}\\.csv"$`),
    );
    const rows = readCsv(csv.html);
    const decisions = ["call.refused", "budget.threshold", "hold.expired"];
    const expected = seeded.filter((e) => decisions.includes(e.type) && e.at < EPOCH_2001 + 2 * DAY);
    expect(rows.slice(1).map((r) => [Number(r[0]), r[2]])).toEqual(expected.map((e) => [e.seq, e.type]));

    const ndjson = await viewer.b.get(
      "/activity/export?category=decisions&from=2001-01-01&to=2001-01-02&format=ndjson",
    );
    expect(ndjson.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = readNdjson(ndjson.html);
    expect(lines.filter((l) => !V1Event.safeParse(l).success)).toEqual([]);
    expect(lines).toEqual(expected);
  });

  it("selects, for every category, the events the page lists", async () => {
    const db = tenantDb(env.DB, org.tenantId);
    const from = EPOCH_2001;
    const to = EPOCH_2001 + 3 * DAY;
    for (const category of CATEGORIES) {
      const listed = await auditEventsBefore(db, {
        category,
        before: null,
        from,
        to,
        code: null,
        keyId: null,
        limit: 1000,
      });
      const page = await viewer.b.get(
        `/activity/export?category=${category}&from=2001-01-01&to=2001-01-03&format=ndjson`,
      );
      const exported = (readNdjson(page.html) as AuditEvent[]).map((e) => e.seq);
      expect({ category, exported }).toEqual({ category, exported: listed.map((r) => r.seq).toReversed() });
    }
  });

  it("sends a signed-out browser to sign in, with none of the events", async () => {
    const page = await browser().get("/activity/export?category=changes&format=csv");
    expect(page.status).toBe(303);
    expect(page.location).toMatch(/^\/login\?next=/);
    expect(page.html).not.toContain("seq,at");
  });

  it("answers a person of another organisation only their own organisation's events", async () => {
    const other = await newOrg("Other");
    const page = await other.owner.b.get("/activity/export?category=changes&from=2001-01-01&to=2001-01-03&format=csv");
    expect(page.status).toBe(200);
    expect(readCsv(page.html)).toEqual([
      ["seq", "at", "type", "actor_kind", "actor_id", "request_id", "subject", "data"],
    ]);
  });

  it("refuses a bad format or day with 400 and the page's message", async () => {
    const format = await viewer.b.get("/activity/export?category=changes&format=xlsx");
    expect(format.status).toBe(400);
    expect(format.html).toContain("Download CSV or NDJSON.");
    const day = await viewer.b.get("/activity/export?category=changes&from=2001-02-30&format=csv");
    expect(day.status).toBe(400);
    expect(day.html).toContain("Pick a date (YYYY-MM-DD).");
  });

  it("lets an admin token of the viewer role export through the API", async () => {
    const { token } = await createToken(org.owner.b, "viewer", "export viewer");
    const res = await apiCall(token, "/audit/export?from=2001-01-01&to=2001-01-02&types=key.created");
    expect(res.status).toBe(200);
    const lines = readNdjson(new TextDecoder().decode(await res.arrayBuffer()));
    expect(lines).toEqual(seeded.filter((e) => e.type === "key.created" && e.at < EPOCH_2001 + DAY));
  });
});
