// The audit part's Outlay (docs/benchmarks.md, "Audit"): the bundled Worker on workerd as arm C
// is run (worker-host.ts), with the audit driver beside it, and its tenants, each made through
// Outlay's own routes: a tenant, an admin token, the openai provider at the mock upstream, a
// proxy key and, when asked, a webhook endpoint at the local receiver.
import { join } from "node:path";
import { newId } from "../../shared/ids.ts";
import { ROOT } from "./arms.ts";
import { apiCall, stringField } from "./outlay-setup.ts";
import { freePort, startAndWait, type Tracked } from "./procs.ts";

export type AuditOutlay = {
  proc: Tracked;
  /** the Worker's origin */
  base: string;
  /** the audit driver's origin (audit-driver.ts) */
  driver: string;
  operatorToken: string;
  upstream: string;
};

export type AuditTenant = {
  name: string;
  tenantId: string;
  adminToken: string;
  proxyKey: string;
  keyId: string;
  /** the endpoint's id and signing secret (whsec_…), when the tenant has one */
  webhook: { id: string; secret: string; url: string } | null;
};

export async function startAuditOutlay(upstream: string, bundle: string, timeoutMs: number): Promise<AuditOutlay> {
  const operatorToken = `bench-operator-${crypto.randomUUID()}`;
  const [port, driverPort] = [await freePort(), await freePort()];
  const args = ["--arm", "outlay", "--bundle", bundle, "--port", String(port), "--audit-driver", String(driverPort)];
  const { proc, match } = await startAndWait(
    "outlay",
    process.execPath,
    [join(ROOT, "test/bench/worker-host.ts"), ...args],
    /^READY (\{.*\})$/,
    timeoutMs,
    { ...process.env, BENCH_OPERATOR_TOKEN: operatorToken },
  );
  const ready = JSON.parse(match[1] ?? "{}") as { url?: string; driver?: string };
  if (!ready.url || !ready.driver) throw new Error(`worker-host: no Worker or driver URL in ${match[0]}`);
  return { proc, base: ready.url, driver: ready.driver, operatorToken, upstream };
}

/** A tenant with a proxy key; with `hook`, a webhook endpoint at that URL taking `types`. */
export async function provisionAuditTenant(
  outlay: AuditOutlay,
  name: string,
  hook?: { url: string; types: string[] },
): Promise<AuditTenant> {
  const { base, operatorToken } = outlay;
  const tenantId = newId();
  await apiCall(`${base}/internal/v1/tenants/${tenantId}`, "PUT", operatorToken, { name });
  const adminToken = stringField(
    await apiCall(`${base}/internal/v1/tenants/${tenantId}/admin-tokens`, "POST", operatorToken, { name: "bench" }),
    "token",
  );
  await apiCall(`${base}/api/v1/providers/openai`, "PUT", adminToken, {
    api_key: "demo-openai-credential-0000",
    base_url: `${outlay.upstream}/openai/v1`,
  });
  const key = await apiCall(`${base}/api/v1/keys`, "POST", adminToken, { name: "bench key" });
  let webhook: AuditTenant["webhook"] = null;
  if (hook) {
    const created = await apiCall(`${base}/api/v1/webhooks`, "POST", adminToken, {
      url: hook.url,
      event_types: hook.types,
      description: `bench ${name}`,
    });
    webhook = { id: stringField(created, "id"), secret: stringField(created, "secret"), url: hook.url };
  }
  return {
    name,
    tenantId,
    adminToken,
    proxyKey: stringField(key, "key"),
    keyId: stringField(key, "id"),
    webhook,
  };
}

/** The archive's tree size from its latest checkpoint (GET /api/v1/audit/checkpoint; 0 before the first seal). */
export async function treeSize(base: string, adminToken: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/audit/checkpoint`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status === 404) return 0;
  if (res.status !== 200) throw new Error(`GET /api/v1/audit/checkpoint: ${res.status} ${text.slice(0, 200)}`);
  const size = Number(text.split("\n")[1]);
  if (!Number.isSafeInteger(size)) throw new Error(`GET /api/v1/audit/checkpoint: no tree size in the note`);
  return size;
}
