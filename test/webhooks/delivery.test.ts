// Webhook delivery end to end (docs/webhooks.md): audit events reach a real local receiver that
// verifies every delivery with the `standardwebhooks` package; retries keep the webhook-id and
// renew the timestamp; recover and replay send again; rotation overlaps; 410 and five days of
// failures disable the endpoint; redirects are not followed; attempts are logged without the
// receiver's body. Retries here are 1 s apart (WEBHOOK_RETRY_DELAYS in vitest.config.ts).
//
// The tests run concurrently: each has a tenant of its own and a hook name of its own at the
// receiver, and reads only those, so no test can see another's deliveries. Nearly all of their
// time is spent waiting for queue batches and retry delays, which overlap when run together.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/time.ts";
import { newTenant, type Tenant } from "../helpers.ts";
import { waitForEvents } from "../auth/orgs.ts";
import { json, plan, receivedUntil, subscribe, type Delivery } from "./support.ts";

type EventPayload = { type: string; timestamp: string; data: { v: number; seq: number; tenantId: string } };

async function budgets(t: Tenant, n: number, tag = "b"): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await t.api("/budgets", {
      method: "POST",
      json: { name: `${tag}${i}`, window: "daily", limit_usd: "5" },
    });
    expect(res.status).toBe(201);
  }
}

const accepted = (d: Delivery[]) => d.filter((x) => x.answered === 200);
const acceptedOf = (d: Delivery[], type: string) => accepted(d).filter((x) => x.type === type);

async function endpointState(t: Tenant, id: string): Promise<Record<string, unknown>> {
  return json<Record<string, unknown>>(await t.api(`/webhooks/${id}`));
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.concurrent("delivery", () => {
  it("delivers every event once per webhook-id through failures, verified, with seqs in order recoverable", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t);
    // The receiver is down for the first four deliveries, then answers 200.
    await plan(name, { secrets: [endpoint.secret], fail: { status: 503, count: 4 } });
    await budgets(t, 5);
    const got = await receivedUntil(name, (d) => acceptedOf(d, "rule.created").length === 5, 20_000);

    expect(got.every((d) => d.verifiedWith === 0)).toBe(true);
    expect(got.filter((d) => d.answered === 503)).toHaveLength(4);
    // One id per event, accepted exactly once each, and every retry of an id carries the same body.
    const ids = new Map<string, Delivery[]>();
    for (const d of got) ids.set(d.id, [...(ids.get(d.id) ?? []), d]);
    for (const [id, tries] of ids) {
      expect([id, tries.filter((d) => d.answered === 200).length]).toEqual([id, 1]);
      expect(new Set(tries.map((d) => d.body)).size).toBe(1);
      expect(new Set(tries.map((d) => d.seq)).size).toBe(1);
    }
    const retried = [...ids.values()].find((tries) => tries.length > 1) ?? [];
    expect(new Set(retried.map((d) => d.timestamp)).size).toBe(retried.length);
    // Each body is { type, timestamp, data } with the v1 event; together they are the trail's
    // non-high-volume events after the endpoint existed, without a gap.
    const bodies = accepted(got).map((d) => JSON.parse(d.body) as EventPayload);
    for (const b of bodies) {
      expect(Object.keys(b).sort()).toEqual(["data", "timestamp", "type"]);
      expect([b.data.v, b.data.tenantId, b.type]).toEqual([1, t.tenantId, b.type]);
    }
    const rows = await waitForEvents(t.tenantId, "rule.created", () => true, 5);
    expect(
      bodies
        .filter((b) => b.type === "rule.created")
        .map((b) => b.data.seq)
        .sort((x, y) => x - y),
    ).toEqual(rows.map((r) => r.seq));
    expect(bodies.some((b) => b.type === "access.api")).toBe(false);

    const log = await json<{ data: { error: string | null; status_code: number | null; latency_ms: number }[] }>(
      await t.api(`/webhooks/${endpoint.id}/deliveries?limit=200`),
    );
    expect(log.data.filter((a) => a.error === "http_status" && a.status_code === 503)).toHaveLength(4);
    expect(log.data.every((a) => a.latency_ms >= 0)).toBe(true);
  });

  it("keeps exhausted messages as failed, and recover sends each of them once", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    await plan(name, { secrets: [endpoint.secret], fail: { status: 500, count: 1000 } });
    await budgets(t, 2);
    // Eight attempts each (the first and seven retries), then failed.
    await receivedUntil(name, (d) => d.length >= 16, 30_000);
    const failed = await until(
      () => env.DB.prepare("SELECT status, attempts FROM webhook_messages WHERE tenant_id = ?").bind(t.tenantId).all(),
      (r) => r.results.length === 2 && r.results.every((m) => m.status === "failed"),
    );
    expect(failed.results.map((m) => m.attempts)).toEqual([8, 8]);
    await plan(name, { secrets: [endpoint.secret] });
    const since = new Date(Date.now() - 60_000).toISOString();
    const recovered = await t.api(`/webhooks/${endpoint.id}/recover`, { method: "POST", json: { since } });
    expect([recovered.status, await recovered.json()]).toEqual([202, { messages: 2 }]);
    const got = await receivedUntil(name, (d) => accepted(d).length === 2);
    expect(new Set(accepted(got).map((d) => d.id)).size).toBe(2);
    expect(got.filter((d) => d.answered === 500)).toHaveLength(16);
  });

  it("signs with both secrets during a rotation's overlap, and with the new one only after it", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    const rotated = await json<{ secret: string; previous_secret_valid_until: string }>(
      await t.api(`/webhooks/${endpoint.id}/rotate-secret`, { method: "POST" }),
    );
    expect(rotated.secret).not.toBe(endpoint.secret);
    const overlap = Date.parse(rotated.previous_secret_valid_until) - Date.now();
    expect(overlap).toBeGreaterThan(23.9 * 3_600_000);
    // A receiver that still knows only the old secret, and one that knows only the new.
    await plan(name, { secrets: [endpoint.secret, rotated.secret] });
    await budgets(t, 1, "during");
    const during = await receivedUntil(name, (d) => d.length === 1);
    const signatures = JSON.stringify(during);
    expect(signatures).not.toContain(rotated.secret);
    expect(during[0]?.verifiedWith).toBe(0);
    await plan(name, { secrets: [rotated.secret] });
    await budgets(t, 1, "new-only");
    expect((await receivedUntil(name, (d) => d.length === 2))[1]?.verifiedWith).toBe(0);

    // The overlap ends: the old secret no longer verifies anything.
    await env.DB.prepare("UPDATE webhook_endpoints SET previous_until = ? WHERE tenant_id = ? AND id = ?")
      .bind(Date.now() - 1, t.tenantId, endpoint.id)
      .run();
    await plan(name, { secrets: [endpoint.secret], fail: null });
    await budgets(t, 1, "after");
    const after = await receivedUntil(name, (d) => d.length >= 3);
    expect(after[2]?.verifiedWith).toBeNull();
    expect(after[2]?.answered).toBe(400);
  });

  it("disables the endpoint on 410 Gone, with an audit event and no further attempt", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    await plan(name, { secrets: [endpoint.secret], fail: { status: 410, count: 1 } });
    expect((await t.api(`/webhooks/${endpoint.id}/test`, { method: "POST" })).status).toBe(202);
    const state = await until(
      () => endpointState(t, endpoint.id),
      (s) => s.enabled === false,
    );
    expect(state.disabled_reason).toBe("gone");
    const [event] = await waitForEvents(t.tenantId, "webhook.disabled", (d) => d.reason === "gone");
    expect([event?.actor_kind, event?.subject]).toEqual(["system", endpoint.id]);
    await budgets(t, 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await receivedUntil(name, () => true)).toHaveLength(1);
    expect((await t.api(`/webhooks/${endpoint.id}/test`, { method: "POST" })).status).toBe(409);
  });

  it("disables an endpoint that has failed for five days straight", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    await env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE tenant_id = ? AND id = ?")
      .bind(Date.now() - 5 * DAY_MS - 60_000, t.tenantId, endpoint.id)
      .run();
    await plan(name, { secrets: [endpoint.secret], fail: { status: 503, count: 100 } });
    expect((await t.api(`/webhooks/${endpoint.id}/test`, { method: "POST" })).status).toBe(202);
    const state = await until(
      () => endpointState(t, endpoint.id),
      (s) => s.enabled === false,
    );
    expect(state.disabled_reason).toBe("failing");
    await waitForEvents(t.tenantId, "webhook.disabled", (d) => d.reason === "failing");
  });

  it("never follows a redirect: a 3xx is a failed attempt", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    const elsewhere = await subscribe(t, { event_types: ["org.closed"] });
    await plan(name, { secrets: [endpoint.secret], redirectTo: `${env.WEBHOOK_RECEIVER_URL}/hooks/${elsewhere.name}` });
    expect((await t.api(`/webhooks/${endpoint.id}/test`, { method: "POST" })).status).toBe(202);
    const log = await until(
      async () =>
        json<{ data: { error: string | null; status_code: number | null }[] }>(
          await t.api(`/webhooks/${endpoint.id}/deliveries`),
        ),
      (l) => l.data.length >= 1,
    );
    expect(log.data[0]).toMatchObject({ error: "redirect", status_code: 301 });
    expect(await receivedUntil(elsewhere.name, () => true)).toEqual([]);
  });

  it("replays a seq range with the same webhook-ids, from the archive when D1 lost the events", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    await budgets(t, 3);
    const first = await receivedUntil(name, (d) => accepted(d).length === 3);
    const seqs = first.map((d) => d.seq ?? 0).sort((x, y) => x - y);
    const [from, to] = [seqs[0] ?? 0, seqs.at(-1) ?? 0];
    // D1's index loses them; the archive still has them once sealed.
    await until(
      async () => (await t.api("/audit/checkpoint")).text(),
      (note) => Number(note.split("\n")[1]) >= to,
    );
    await env.DB.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq BETWEEN ? AND ?")
      .bind(t.tenantId, from, to)
      .run();
    const replay = await t.api(`/webhooks/${endpoint.id}/replay`, {
      method: "POST",
      json: { from_seq: from, to_seq: to },
    });
    expect([replay.status, await replay.json()]).toEqual([202, { messages: 3 }]);
    const again = await receivedUntil(name, (d) => accepted(d).length === 6);
    const ids = (ds: Delivery[]) => ds.map((d) => d.id).sort();
    expect(ids(again.slice(3))).toEqual(ids(first));
    expect(
      again
        .slice(3)
        .map((d) => d.body)
        .sort(),
    ).toEqual(first.map((d) => d.body).sort());
  });

  it("sends high-volume types only to endpoints that ask for them", async () => {
    const t = await newTenant({ providers: false });
    const quiet = await subscribe(t);
    const loud = await subscribe(t, { event_types: ["access.api"] });
    await budgets(t, 1);
    const got = await receivedUntil(loud.name, (d) => acceptedOf(d, "access.api").length >= 1);
    expect(got.every((d) => d.type === "access.api")).toBe(true);
    const quietGot = await receivedUntil(quiet.name, (d) => acceptedOf(d, "rule.created").length === 1);
    expect(quietGot.some((d) => d.type === "access.api" || d.type === "call.admitted")).toBe(false);
  });

  it("stores no secret in plain text and no receiver body", async () => {
    const t = await newTenant({ providers: false });
    const { name, endpoint } = await subscribe(t, { event_types: ["rule.created"] });
    await budgets(t, 1);
    await receivedUntil(name, (d) => accepted(d).length === 1);
    const tables = ["webhook_endpoints", "webhook_messages", "webhook_attempts", "audit_events"];
    const dump: string[] = [];
    for (const table of tables) {
      const rows = await env.DB.prepare(`SELECT * FROM ${table} WHERE tenant_id = ?`).bind(t.tenantId).all();
      dump.push(JSON.stringify(rows.results));
    }
    const listed = await env.AUDIT_ARCHIVE.list({ prefix: `audit/${t.tenantId}/` });
    for (const o of listed.objects) dump.push((await env.AUDIT_ARCHIVE.get(o.key))?.key ?? "");
    const text = dump.join("\n");
    expect(text).not.toContain(endpoint.secret);
    expect(text).not.toContain(endpoint.secret.slice(6, 30));
    expect(text).not.toContain(env.AUDIT_SIGNING_KEYS.split(",")[0]?.slice(3) ?? "missing");
  });
});
