// Key rotation (issue #5): a key keeps its id and gets a new secret; the old secret is accepted
// until its grace period ends, then refused — by the ledger (strict mode) and by a gateway
// isolate admitting from its lease (lease mode). A retry with the same rotation id changes
// nothing; a second rotation ends the older secret at once; revoked and expired keys are not
// rotated; budgets and rollups keep counting under the same key id.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyHash } from "../../shared/crypto.ts";
import { newId } from "../../shared/ids.ts";
import { keyHint, remintKey } from "../../shared/keys.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { admitFromLease, renew } from "../../workers/gateway/lease.ts";
import { LEASE_TTL_MS } from "../../workers/ledger/leases.ts";
import type { AdmitRequest, CallFacts, KeyRotation } from "../../workers/ledger/types.ts";
import { newTenant, waitForEventCount, type Tenant } from "../helpers.ts";
import { budgetStatus, chat, createBudget, nano, untilLaterAudit, waitFor } from "./support.ts";

const HOUR = 3_600_000;
const ADMISSION = "x-outlay-admission";

const CALL: CallFacts = {
  model: "gpt-4o-mini",
  endpoint: "chat.completions",
  stream: false,
  metered: true,
  inputTokens: 10,
  maxOutputTokens: 100,
  dimensions: {},
  source: null,
};

/** A new secret for the tenant's key, as the API mints it. */
async function newSecret(tenant: Tenant, graceMs: number, rotationId = newId()) {
  const minted = remintKey("olk", tenant.tenantId, tenant.keyId);
  const rotation: KeyRotation = {
    rotationId,
    hash: await keyHash(env.KEY_PEPPER, minted.key),
    hint: keyHint(minted.key),
    graceMs,
  };
  return { token: minted.key, rotation };
}

/** The ledger's answer for a key hash at `now` (authentication only: no hold, no budgets). */
async function admit(tenant: Tenant, hash: string, now: number) {
  const result = await ledgerFor(env, tenant.tenantId).admit({
    keyId: tenant.keyId,
    keyHash: hash,
    provider: "openai",
    builtInProvider: true,
    requestId: `req_${newId()}`,
    now,
    call: null,
  });
  return result.ok ? "ok" : `refused:${result.reason ?? result.code}`;
}

async function callWith(tenant: Tenant, key: string) {
  const res = await chat({ ...tenant, proxyKey: key });
  await res.text();
  return res;
}

describe("rotation in the ledger (strict mode, time moved through `now`)", () => {
  it("keeps the id, accepts the old secret until the grace ends and the new one at once", async () => {
    const tenant = await newTenant({ providers: false });
    const ledger = ledgerFor(env, tenant.tenantId);
    const oldHash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const t0 = Date.now();
    const { token, rotation } = await newSecret(tenant, HOUR);
    expect(token.split("_").slice(0, 3)).toEqual(tenant.proxyKey.split("_").slice(0, 3));
    const result = await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation, now: t0 });
    expect(result.outcome).toBe("rotated");
    if (result.outcome !== "rotated") return;
    expect(result.key).toMatchObject({
      id: tenant.keyId,
      hint: rotation.hint,
      previousHint: keyHint(tenant.proxyKey),
      rotatedAt: t0,
      previousUntil: t0 + HOUR,
      revokedAt: null,
    });

    expect(await admit(tenant, rotation.hash, t0)).toBe("ok");
    expect(await admit(tenant, oldHash, t0 + 1)).toBe("ok");
    expect(await admit(tenant, oldHash, t0 + HOUR - 1)).toBe("ok");
    expect(await admit(tenant, oldHash, t0 + HOUR)).toBe("refused:rotated");
    expect(await admit(tenant, oldHash, t0 + 2 * HOUR)).toBe("refused:rotated");
    expect(await admit(tenant, rotation.hash, t0 + 2 * HOUR)).toBe("ok");
  });

  it("a grace of 0 ends the old secret at the rotation's instant", async () => {
    const tenant = await newTenant({ providers: false });
    const oldHash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const t0 = Date.now();
    const { rotation } = await newSecret(tenant, 0);
    expect(
      (
        await ledgerFor(env, tenant.tenantId).rotateKey({
          tenantId: tenant.tenantId,
          id: tenant.keyId,
          rotation,
          now: t0,
        })
      ).outcome,
    ).toBe("rotated");
    expect(await admit(tenant, oldHash, t0)).toBe("refused:rotated");
    expect(await admit(tenant, rotation.hash, t0)).toBe("ok");
  });

  it("a retry with the same rotation id changes nothing", async () => {
    const tenant = await newTenant({ providers: false });
    const ledger = ledgerFor(env, tenant.tenantId);
    const t0 = Date.now();
    const first = await newSecret(tenant, HOUR, "sameidsameid");
    expect(
      (await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation: first.rotation, now: t0 }))
        .outcome,
    ).toBe("rotated");
    const retry = await newSecret(tenant, 0, "sameidsameid");
    const again = await ledger.rotateKey({
      tenantId: tenant.tenantId,
      id: tenant.keyId,
      rotation: retry.rotation,
      now: t0 + 1000,
    });
    expect(again.outcome).toBe("replayed");
    if (again.outcome !== "replayed") return;
    // The stored secrets and times are the first rotation's.
    expect(again.key).toMatchObject({ hint: first.rotation.hint, rotatedAt: t0, previousUntil: t0 + HOUR });
    expect(await admit(tenant, first.rotation.hash, t0 + 2000)).toBe("ok");
    expect(await admit(tenant, retry.rotation.hash, t0 + 2000)).toBe("refused:unknown");
    expect(await admit(tenant, await keyHash(env.KEY_PEPPER, tenant.proxyKey), t0 + 2000)).toBe("ok");
    const audits = await waitFor(async () => {
      const res = await tenant.api(`/audit?type=key.rotated&limit=10`);
      const body = (await res.json()) as { events: unknown[] };
      return body.events.length > 0 ? body.events : null;
    }, "key.rotated");
    await untilLaterAudit(tenant);
    const res = await tenant.api(`/audit?type=key.rotated&limit=10`);
    expect(((await res.json()) as { events: unknown[] }).events.length).toBe(audits.length);
    expect(audits.length).toBe(1);
  });

  it("a second rotation ends the older secret at once", async () => {
    const tenant = await newTenant({ providers: false });
    const ledger = ledgerFor(env, tenant.tenantId);
    const first = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const t0 = Date.now();
    const second = await newSecret(tenant, HOUR);
    const third = await newSecret(tenant, HOUR);
    expect(
      (await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation: second.rotation, now: t0 }))
        .outcome,
    ).toBe("rotated");
    expect(await admit(tenant, first, t0 + 5)).toBe("ok");
    expect(
      (await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation: third.rotation, now: t0 + 10 }))
        .outcome,
    ).toBe("rotated");
    expect(await admit(tenant, first, t0 + 20)).toBe("refused:unknown");
    expect(await admit(tenant, second.rotation.hash, t0 + 20)).toBe("ok");
    expect(await admit(tenant, third.rotation.hash, t0 + 20)).toBe("ok");
    expect(await admit(tenant, second.rotation.hash, t0 + 10 + HOUR)).toBe("refused:rotated");
  });

  it("does not rotate a revoked or an expired key; revoking ends the previous secret too", async () => {
    const tenant = await newTenant({ providers: false });
    const ledger = ledgerFor(env, tenant.tenantId);
    const oldHash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const t0 = Date.now();
    const { rotation } = await newSecret(tenant, HOUR);
    expect((await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation, now: t0 })).outcome).toBe(
      "rotated",
    );
    await ledger.revokeKey({ tenantId: tenant.tenantId, id: tenant.keyId, now: t0 + 10 });
    expect(await admit(tenant, oldHash, t0 + 20)).toBe("refused:revoked");
    expect(await admit(tenant, rotation.hash, t0 + 20)).toBe("refused:revoked");
    const later = await newSecret(tenant, HOUR);
    expect(
      (await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation: later.rotation, now: t0 + 30 }))
        .outcome,
    ).toBe("revoked");
    expect(await admit(tenant, later.rotation.hash, t0 + 40)).toBe("refused:unknown");

    const expiring = await tenant.api("/keys", {
      method: "POST",
      json: { name: "short-lived", expires_at: t0 + HOUR },
    });
    const { id } = (await expiring.json()) as { id: string };
    const secret = await newSecret({ ...tenant, keyId: id }, HOUR);
    const answer = await ledger.rotateKey({
      tenantId: tenant.tenantId,
      id,
      rotation: secret.rotation,
      now: t0 + 2 * HOUR,
    });
    expect(answer.outcome).toBe("expired");
    expect(
      (await ledger.rotateKey({ tenantId: tenant.tenantId, id: "nosuchkey222", rotation: secret.rotation, now: t0 }))
        .outcome,
    ).toBe("not_found");
  });
});

describe("rotation through the gateway", () => {
  it("strict mode: grace 0 refuses the old key on the next call; the new key works at once", async () => {
    const tenant = await newTenant();
    expect((await callWith(tenant, tenant.proxyKey)).status).toBe(200);
    const res = await tenant.api(`/keys/${tenant.keyId}/rotate`, { method: "POST", json: { grace_seconds: 0 } });
    expect(res.status).toBe(200);
    const { key } = (await res.json()) as { key: string };
    expect((await callWith(tenant, tenant.proxyKey)).status).toBe(401);
    expect((await callWith(tenant, key)).status).toBe(200);
  });

  it("strict mode: with a long grace both keys work, and spend stays under the same key id", async () => {
    const tenant = await newTenant();
    const budget = await createBudget(tenant, { limit_usd: "10", scope: { key_id: tenant.keyId } });
    expect((await callWith(tenant, tenant.proxyKey)).status).toBe(200);
    const res = await tenant.api(`/keys/${tenant.keyId}/rotate`, {
      method: "POST",
      json: { grace_seconds: 86_400 },
    });
    const { key } = (await res.json()) as { key: string };
    expect((await callWith(tenant, tenant.proxyKey)).status).toBe(200);
    expect((await callWith(tenant, key)).status).toBe(200);
    const events = await waitForEventCount(tenant.tenantId, 3);
    expect(new Set(events.map((e) => e.key_id))).toEqual(new Set([tenant.keyId]));
    const total = events.reduce((sum, e) => sum + BigInt(e.cost_nano_usd ?? 0), 0n);
    expect(total).toBeGreaterThan(0n);
    const status = await waitFor(async () => {
      const s = await budgetStatus(tenant, budget);
      return nano(s.spent_usd) === total ? s : null;
    }, "the budget to count all three calls");
    expect(nano(status.spent_usd)).toBe(total);
    const rollup = await waitFor(async () => {
      const row = await env.DB.prepare(
        "SELECT SUM(requests) AS n, SUM(cost_nano_usd) AS cost FROM usage_rollups_hourly WHERE tenant_id = ? AND dim_name = '' AND key_id = ?",
      )
        .bind(tenant.tenantId, tenant.keyId)
        .first<{ n: number | null; cost: number | null }>();
      return row?.n === 3 ? row : null;
    }, "rollups of the three calls");
    expect(BigInt(rollup.cost ?? 0)).toBe(total);
  });

  async function leaseTenant(): Promise<Tenant> {
    const tenant = await newTenant();
    const res = await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "lease" } });
    expect(res.status).toBe(200);
    return tenant;
  }

  async function untilLeased(tenant: Tenant, key: string): Promise<void> {
    await waitFor(
      async () => ((await callWith(tenant, key)).headers.get(ADMISSION) === "lease" ? true : null),
      "a call admitted from the lease",
    );
  }

  it(`lease mode: grace 0 refuses the old key within the lease's time to live (${LEASE_TTL_MS} ms)`, async () => {
    const tenant = await leaseTenant();
    await untilLeased(tenant, tenant.proxyKey);
    const rotatedAt = Date.now();
    const res = await tenant.api(`/keys/${tenant.keyId}/rotate`, { method: "POST", json: { grace_seconds: 0 } });
    const { key } = (await res.json()) as { key: string };
    expect((await callWith(tenant, key)).status).toBe(200);
    const refusedAt = await waitFor(
      async () => ((await callWith(tenant, tenant.proxyKey)).status === 401 ? Date.now() : null),
      "the old secret refused",
      LEASE_TTL_MS * 5,
    );
    // Within the lease's time to live, with room for a loaded test machine.
    expect(refusedAt - rotatedAt).toBeLessThanOrEqual(LEASE_TTL_MS + 1_500);
    // Refused from then on; the new key is admitted from the lease once it carries it.
    expect((await callWith(tenant, tenant.proxyKey)).status).toBe(401);
    await untilLeased(tenant, key);
  });

  it("lease mode: with a long grace the old and the new key are both admitted from the lease", async () => {
    const tenant = await leaseTenant();
    await untilLeased(tenant, tenant.proxyKey);
    const res = await tenant.api(`/keys/${tenant.keyId}/rotate`, { method: "POST", json: { grace_seconds: 3600 } });
    const { key } = (await res.json()) as { key: string };
    await untilLeased(tenant, key);
    await untilLeased(tenant, tenant.proxyKey);
    const old = await callWith(tenant, tenant.proxyKey);
    expect(old.status).toBe(200);
  });

  it("lease mode: an isolate's lease accepts the previous secret until its grace ends, to the millisecond", async () => {
    const tenant = await leaseTenant();
    const ledger = ledgerFor(env, tenant.tenantId);
    const oldHash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const t0 = Date.now();
    // Short enough that the lease below (usable for LEASE_TTL_MS) outlives the grace period.
    const grace = LEASE_TTL_MS - 100;
    const { rotation } = await newSecret(tenant, grace);
    expect((await ledger.rotateKey({ tenantId: tenant.tenantId, id: tenant.keyId, rotation, now: t0 })).outcome).toBe(
      "rotated",
    );
    // This test's own isolate state: a lease granted now carries both secrets.
    await renew(tenant.tenantId, { lease: (report) => ledger.lease(report), sendEvents: async () => undefined });
    const request = (hash: string, now: number): AdmitRequest => ({
      keyId: tenant.keyId,
      keyHash: hash,
      provider: "openai",
      builtInProvider: true,
      requestId: `req_${newId()}`,
      now,
      call: CALL,
    });
    const until = t0 + grace;
    expect(Date.now()).toBeLessThan(until);
    expect(admitFromLease(tenant.tenantId, request(oldHash, until - 1))?.leased).toBeDefined();
    expect(admitFromLease(tenant.tenantId, request(rotation.hash, until - 1))?.leased).toBeDefined();
    // At the end of the grace the lease no longer decides the old secret (the ledger refuses it).
    expect(admitFromLease(tenant.tenantId, request(oldHash, until))).toBeNull();
    expect(admitFromLease(tenant.tenantId, request(rotation.hash, until))?.leased).toBeDefined();
    expect(await admit(tenant, oldHash, until)).toBe("refused:rotated");

    // A lease granted after the grace carries no previous secret at all.
    const grant = await ledger.lease({ leaseId: null, now: until + 1, events: [], budgets: [], rates: [] });
    const leased = grant?.keys.find((k) => k.id === tenant.keyId);
    expect(leased).toMatchObject({ hash: rotation.hash, previousHash: null, previousUntil: null });
  });
});
