// Access events (docs/audit.md, access.*): every management API request a token passes, every
// dashboard request of a session and every operator request about a tenant is an audit event of
// that organisation — route template, method, status, source, actor — sent after the answer, in
// batches, through the ledger (so each has a seq). Never a query value, a body or a token.
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import { apiCall, newTenant, operator } from "../helpers.ts";
import { addMember, newOrg, waitForEvents, type AuditRow } from "../auth/orgs.ts";
import { env } from "cloudflare:workers";

type Access = AuditRow & { parsed: Record<string, unknown> };

function line(e: Access): string {
  return `${e.actor_kind}:${e.actor_id ?? "-"} ${String(e.parsed.method)} ${String(e.parsed.route)} ${String(e.parsed.status)}`;
}

async function allEvents(tenantId: string): Promise<{ type: string; data: string }[]> {
  const { results } = await env.DB.prepare("SELECT type, data FROM audit_events WHERE tenant_id = ?1 ORDER BY seq")
    .bind(tenantId)
    .all<{ type: string; data: string }>();
  return results;
}

describe("access.api", () => {
  it("records the route template, method, status, source and token — never the path's values or query", async () => {
    const t = await newTenant({ providers: false });
    const tokenId = t.adminToken.split("_")[2] ?? "";
    const secretQuery = `q${newId()}`;
    const headers = { "cf-connecting-ip": "198.51.100.20" };
    expect((await t.api(`/budgets/bdg_${newId()}?note=${secretQuery}`, { headers })).status).toBe(404);
    expect((await t.api(`/no/such/route/${secretQuery}`, { headers })).status).toBe(404);
    expect((await t.api("/budgets", { headers, method: "POST", json: { name: 7 } })).status).toBe(400);
    const listed = await t.api("/keys", { headers });
    expect(listed.status).toBe(200);

    const mine = (d: Record<string, unknown>) => d.source === "198.51.100.20";
    const events = await waitForEvents(t.tenantId, "access.api", mine, 4);
    expect(events.map(line)).toEqual([
      `admin:${tokenId} GET /api/v1/budgets/:id 404`,
      `admin:${tokenId} GET /api/v1/* 404`,
      `admin:${tokenId} POST /api/v1/budgets 400`,
      `admin:${tokenId} GET /api/v1/keys 200`,
    ]);
    for (const e of events) expect(Object.keys(e.parsed).sort()).toEqual(["method", "route", "source", "status"]);
    const stored = JSON.stringify(await allEvents(t.tenantId));
    expect(stored).not.toContain(secretQuery);
    expect(stored).not.toContain(t.adminToken.split("_")[3] ?? "missing");
  });

  it("records a request the token's role may not make, with its 403", async () => {
    const org = await newOrg("Access roles");
    const viewerToken = await mintToken(org.tenantId, "viewer");
    const res = await apiCall(viewerToken.token, "/budgets", { method: "POST", json: { name: "x" } });
    expect(res.status).toBe(403);
    const [event] = await waitForEvents(org.tenantId, "access.api", (d) => d.status === 403);
    expect(event && line(event)).toBe(`admin:${viewerToken.id} POST /api/v1/budgets 403`);
  });

  it("records nothing for a token that names a tenant but is wrong, and nothing in another tenant", async () => {
    const a = await newTenant({ providers: false });
    const b = await newTenant({ providers: false });
    const [, tenant, id] = a.adminToken.split("_");
    const forged = `ola_${tenant}_${id}_${"x".repeat(43)}`;
    expect((await apiCall(forged, "/keys", { headers: { "cf-connecting-ip": "192.0.2.66" } })).status).toBe(401);
    // A marker through the same path: once b's own access event is stored, a's would be too.
    expect((await a.api("/keys", { headers: { "cf-connecting-ip": "192.0.2.67" } })).status).toBe(200);
    expect((await b.api("/keys", { headers: { "cf-connecting-ip": "192.0.2.68" } })).status).toBe(200);
    await waitForEvents(a.tenantId, "access.api", (d) => d.source === "192.0.2.67");
    await waitForEvents(b.tenantId, "access.api", (d) => d.source === "192.0.2.68");
    const sources = async (tenantId: string) =>
      (await allEvents(tenantId)).filter((e) => e.type === "access.api").map((e) => JSON.parse(e.data).source);
    expect(await sources(a.tenantId)).not.toContain("192.0.2.66");
    expect(await sources(a.tenantId)).not.toContain("192.0.2.68");
    expect(await sources(b.tenantId)).not.toContain("192.0.2.67");
    // And the audit route of one tenant never lists the other's access.
    const listed = (await (await b.api("/audit?type=access.api&limit=500")).json()) as {
      events: { data: { source: string } }[];
    };
    expect(listed.events.map((e) => e.data.source)).not.toContain("192.0.2.67");
  });

  it("gives every one of a burst of requests one event with its own seq", async () => {
    const t = await newTenant({ providers: false });
    const headers = { "cf-connecting-ip": "203.0.113.99" };
    const answers = await Promise.all(Array.from({ length: 30 }, () => t.api("/keys", { headers })));
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
    const events = await waitForEvents(t.tenantId, "access.api", (d) => d.source === "203.0.113.99", 30);
    expect(events).toHaveLength(30);
    expect(new Set(events.map((e) => e.seq)).size).toBe(30);
  });
});

describe("access.dashboard", () => {
  it("records a signed-in person's pages and refused posts with their route templates", async () => {
    const org = await newOrg("Access pages");
    const viewer = await addMember(org, "viewer");
    expect((await viewer.b.get("/keys")).status).toBe(200);
    expect((await viewer.b.get(`/budgets/bdg_${newId()}?from=secret-value`)).status).toBe(404);
    expect((await viewer.b.post(`/org/members/${org.owner.userId}/role`, { role: "viewer" })).status).toBe(403);
    const events = await waitForEvents(
      org.tenantId,
      "access.dashboard",
      (d) => d.route === "/keys" || d.route === "/budgets/:id" || d.route === "/org/members/:id/role",
      3,
    );
    const byViewer = events.filter((e) => e.actor_id === viewer.userId).map(line);
    expect(byViewer).toEqual(
      expect.arrayContaining([
        `user:${viewer.userId} GET /keys 200`,
        `user:${viewer.userId} GET /budgets/:id 404`,
        `user:${viewer.userId} POST /org/members/:id/role 403`,
      ]),
    );
    expect(JSON.stringify(await allEvents(org.tenantId))).not.toContain("secret-value");
  });
});

describe("access.operator", () => {
  it("records the operator's requests about an existing tenant, and none for a refused id", async () => {
    const tenantId = newId();
    expect((await operator(`/tenants/${tenantId}`, "PUT", { name: "Operated" })).status).toBe(200);
    expect((await operator(`/tenants/${tenantId}/admin-tokens`, "POST", { name: "ops" })).status).toBe(201);
    const events = await waitForEvents(tenantId, "access.operator", () => true, 2);
    expect(events.map(line)).toEqual([
      "operator:- PUT /internal/v1/tenants/:id 200",
      "operator:- POST /internal/v1/tenants/:id/admin-tokens 201",
    ]);
    const unknown = newId();
    expect((await operator(`/tenants/${unknown}/admin-tokens`, "POST", { name: "ops" })).status).toBe(404);
    // A marker sent after it, through the same path: once it is stored, the refused one would be.
    expect((await operator(`/tenants/${tenantId}/admin-tokens`, "POST", { name: "marker" })).status).toBe(201);
    await waitForEvents(tenantId, "access.operator", () => true, 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await allEvents(unknown)).toEqual([]);
  });
});

async function mintToken(tenantId: string, role: string): Promise<{ id: string; token: string }> {
  const { createAdminToken } = await import("../../workers/auth/index.ts");
  return createAdminToken(env, tenantId, { name: `access ${role}`, role: role as "viewer", createdBy: "test" });
}
