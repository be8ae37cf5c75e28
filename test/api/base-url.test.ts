// Upstream base URLs (docs/security.md "Upstream base URLs"): a corpus of spellings of private,
// link-local, metadata, loopback and otherwise unsafe upstreams, each refused by the one shared
// check — through PUT /api/v1/providers/{name}, through the dashboard's POST /providers, and
// directly with the loopback flag both off and on. Nothing refused is stored.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { checkBaseUrl } from "../../shared/upstream-url.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { providerProblems } from "../../workers/services/index.ts";
import { newOrg, type Org } from "../auth/orgs.ts";
import worker from "../../workers/index.ts";
import { BASE, newTenant, testTag, upstreamCalls, type Tenant } from "../helpers.ts";

type Json = Record<string, unknown>;

/** Refused whatever ALLOW_LOOPBACK_UPSTREAMS says. */
const REFUSED: string[] = [
  // private, link-local, CGNAT, unspecified, broadcast, multicast, reserved IPv4 over https
  "https://10.0.0.1",
  "https://10.255.255.255/v1",
  "https://172.16.0.1/v1",
  "https://172.31.255.254",
  "https://192.168.1.1/v1",
  "https://169.254.169.254",
  "https://169.254.169.254/latest/meta-data",
  "https://169.254.170.2/v2/credentials",
  "https://100.64.0.1",
  "https://100.100.100.200/latest",
  "https://0.0.0.0",
  "https://255.255.255.255",
  "https://224.0.0.1",
  "https://240.0.0.1",
  "https://192.0.2.10",
  "https://198.18.0.1",
  // the same addresses spelt as numbers the URL parser normalises
  "https://0",
  "https://0xa9fea9fe",
  "https://2852039166",
  "https://0251.0376.0251.0376",
  "https://169.254.43518",
  "https://10.1",
  "https://012.0.0.1",
  "https://0x0a.0.0.1",
  "https://167772161",
  "https://0xA9FEA9FE/v1",
  "https://１０.０.０.１",
  "https://%31%30.0.0.1",
  // loopback in spellings other than the canonical one (refused even where loopback is allowed)
  "http://127.1",
  "http://2130706433",
  "http://0x7f000001",
  "http://0177.0.0.1",
  "http://127.000.000.001",
  "http://0x7f.1",
  "https://127.1:8443",
  "http://[0:0:0:0:0:0:0:1]",
  "http://[::ffff:127.0.0.1]",
  "http://[::ffff:7f00:1]",
  "http://LOCALHOST",
  "http://localhost.",
  "http://foo.localhost",
  "http://0.0.0.0",
  // IPv6: unique-local, link-local, unspecified, mapped, NAT64, 6to4, Teredo, multicast, site-local, documentation
  "https://[fd00::1]",
  "https://[fc00::1]/v1",
  "https://[fe80::1]",
  "https://[::]",
  "https://[::ffff:10.0.0.1]",
  "https://[::ffff:a00:1]",
  "https://[::ffff:169.254.169.254]",
  "https://[64:ff9b::a00:1]",
  "https://[64:ff9b::169.254.169.254]",
  "https://[2002:a00:1::]",
  "https://[2001:0::a00:1]",
  "https://[ff02::1]",
  "https://[fec0::1]",
  "https://[2001:db8::1]",
  // metadata and internal names, single labels, trailing dots, special-use suffixes
  "https://metadata.google.internal",
  "https://metadata.google.internal.",
  "https://METADATA.GOOGLE.INTERNAL",
  "https://metadata.google.internal/computeMetadata/v1",
  "https://metadata",
  "https://instance-data",
  "https://instance-data.ec2.internal",
  "https://anything.internal/v1",
  "https://metadata.tencentyun.com",
  "https://intranet",
  "https://api.openai.com.",
  "https://api.openai.com./v1",
  "https://printer.local",
  "https://router.home.arpa",
  "https://1.0.0.10.in-addr.arpa",
  "https://server.localdomain",
  "https://svc.cluster.local",
  "https://127.0.0.1.nip.io",
  "https://10.0.0.1.sslip.io/v1",
  "https://app.localtest.me",
  // credentials, queries, fragments
  "https://user:pass@api.openai.com/v1",
  "https://user@api.openai.com/v1",
  "https://@api.openai.com/v1",
  "https://api.openai.com@10.0.0.1",
  "https://api.openai.com:443@169.254.169.254",
  "https://api.openai.com/v1?x=1",
  "https://api.openai.com/v1?",
  "https://api.openai.com/v1#frag",
  "https://api.openai.com/v1#",
  // whitespace and control characters anywhere
  " https://api.openai.com/v1",
  "https://api.openai.com/v1 ",
  "https://api.openai.com/v1\n",
  "https://api.open\tai.com/v1",
  "https://10.0.0.\n1",
  "https://api.openai.com/v1\u0000",
  "\u00a0https://api.openai.com/v1",
  "https://api.openai.com/v1\u2028",
  "https://api.openai.com/v\u00ad1",
  "   ",
  // schemes other than https, and relative or odd forms
  "http://api.openai.com/v1",
  "ftp://api.openai.com/v1",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "gopher://api.openai.com",
  "ws://api.openai.com",
  "//api.openai.com/v1",
  "api.openai.com/v1",
  // not in the form the parser would normalise it to
  "HTTPS://api.openai.com/v1",
  "https://API.OPENAI.COM/v1",
  "https:\\\\api.openai.com\\v1",
  "https:/api.openai.com/v1",
  "https:api.openai.com/v1",
  "https://api.openai.com:443/v1",
  "https://api.openai.com/v1/../../x",
  "https://api.openai.com/v1/%2e%2e/x",
  "https://api.openai.com/v1/./x",
  "https://ｅｘａｍｐｌｅ.com/v1",
  "https://bücher.example/v1",
];

/** Refused unless ALLOW_LOOPBACK_UPSTREAMS is "true" (the local trial and the tests). */
const LOOPBACK: string[] = [
  "http://127.0.0.1:8787/v1",
  "https://127.0.0.1/v1",
  "http://127.0.0.2:9000",
  "http://localhost:8787/v1",
  "http://[::1]:8787/v1",
];

/** Accepted everywhere. */
const PUBLIC: string[] = [
  "https://api.openai.com/v1",
  "https://api.openai.com/v1/",
  "https://api.openai.com",
  "https://api.openai.com/",
  "https://api.groq.com/openai/v1",
  "https://llm.acme.dev:8443/v1",
  "https://8.8.8.8/v1",
  "https://[2606:4700:4700::1111]/v1",
  "https://xn--bcher-kva.example/v1",
  "https://my_host.acme.dev/v1",
];

describe("the base URL check (shared)", () => {
  it.each(REFUSED)("refuses %j with and without the loopback flag", (value) => {
    for (const allowLoopback of [false, true]) {
      const problem = checkBaseUrl(value, { allowLoopback });
      expect(problem, `${JSON.stringify(value)} allowLoopback=${String(allowLoopback)}`).not.toBeNull();
      expect(problem?.param).toBe("base_url");
      expect(problem?.status).toBe(400);
    }
  });

  it.each(LOOPBACK)("refuses loopback %j unless the flag allows it", (value) => {
    expect(checkBaseUrl(value, { allowLoopback: false })?.param).toBe("base_url");
    expect(checkBaseUrl(value, { allowLoopback: true })).toBeNull();
  });

  it.each(PUBLIC)("accepts %j", (value) => {
    expect(checkBaseUrl(value, { allowLoopback: false })).toBeNull();
  });

  it("is the check providerProblems applies, flag read from the environment", () => {
    const input = (baseUrl: string) => ({ name: "custom-llm", apiKey: "sk-test-0000000000", baseUrl });
    expect(providerProblems(input("http://127.0.0.1:8787/v1"), { ALLOW_LOOPBACK_UPSTREAMS: "false" })).toHaveLength(1);
    expect(providerProblems(input("http://127.0.0.1:8787/v1"), { ALLOW_LOOPBACK_UPSTREAMS: "true" })).toHaveLength(0);
    expect(providerProblems(input("https://10.0.0.1"), { ALLOW_LOOPBACK_UPSTREAMS: "true" })[0]?.param).toBe(
      "base_url",
    );
  });

  it("names the canonical form when the spelling is not canonical, and never echoes control characters", () => {
    expect(checkBaseUrl("https://API.OPENAI.COM/v1", { allowLoopback: false })?.message).toContain(
      "https://api.openai.com/v1",
    );
    expect(checkBaseUrl("https://api.openai.com/v1\n", { allowLoopback: false })?.message).not.toContain("\n");
    // decided on the address the spelling stands for, and said so
    expect(checkBaseUrl("https://0xa9fea9fe", { allowLoopback: true })?.message).toContain(
      "169.254.169.254 is a linkLocal",
    );
    expect(checkBaseUrl("http://2130706433", { allowLoopback: true })?.message).toContain("http://127.0.0.1/");
  });
});

describe("PUT /api/v1/providers/{name}: base_url", () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await newTenant({ providers: false });
  });

  it("refuses every unsafe spelling with a 400 naming base_url, and stores nothing", async () => {
    const accepted: string[] = [];
    for (const value of REFUSED) {
      const res = await t.api("/providers/custom-llm", {
        method: "PUT",
        json: { api_key: "sk-test-0000000000000000", base_url: value },
      });
      const body = (await res.json()) as { error?: { field?: string } };
      if (res.status !== 400 || body.error?.field !== "base_url")
        accepted.push(`${JSON.stringify(value)} ${res.status}`);
    }
    expect(accepted).toEqual([]);
    expect(await ledgerFor(env, t.tenantId).listProviders()).toEqual([]);
  });

  it("accepts public and (in tests, where the flag is on) canonical loopback base URLs", async () => {
    const refused: string[] = [];
    for (const value of [...PUBLIC, ...LOOPBACK]) {
      const res = await t.api("/providers/custom-llm", {
        method: "PUT",
        json: { api_key: "sk-test-0000000000000000", base_url: value },
      });
      if (res.status !== 200) refused.push(`${value} ${res.status}`);
    }
    expect(refused).toEqual([]);
  });
});

/** The Worker with loopback upstreams allowed (the tests' bindings) or not (as deployed). */
async function send(loopback: "allowed" | "refused", path: string, init: RequestInit) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${path}`, init),
    { ...env, ALLOW_LOOPBACK_UPSTREAMS: loopback === "allowed" ? "true" : "false" },
    ctx,
  );
  const body = (await res.json()) as Json;
  await waitOnExecutionContext(ctx);
  return { status: res.status, body };
}

describe("with loopback upstreams not allowed (ALLOW_LOOPBACK_UPSTREAMS off, as deployed)", () => {
  it("PUT refuses every loopback spelling with a 400 naming base_url, and stores nothing", async () => {
    const t = await newTenant({ providers: false });
    const accepted: string[] = [];
    for (const value of [...LOOPBACK, `${env.UPSTREAM_URL}/openai/v1`]) {
      const { status, body } = await send("refused", "/api/v1/providers/custom-llm", {
        method: "PUT",
        headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ api_key: "sk-test-0000000000000000", base_url: value }),
      });
      if (status !== 400 || (body.error as Json | undefined)?.field !== "base_url") accepted.push(`${value} ${status}`);
    }
    expect(accepted).toEqual([]);
    expect(await ledgerFor(env, t.tenantId).listProviders()).toEqual([]);
  });

  it("the gateway refuses a loopback base URL stored while it was allowed, and calls nothing", async () => {
    // newTenant stores providers on the demo upstream (loopback), allowed in the tests' bindings.
    const t = await newTenant();
    const chat = (headers: Record<string, string>) => ({
      method: "POST",
      headers: { authorization: `Bearer ${t.proxyKey}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    const off = testTag();
    const refused = await send("refused", "/openai/v1/chat/completions", chat(off.headers));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "provider_not_configured" });
    expect(String((refused.body.error as Json).message)).toContain("no longer accepted");
    expect(await upstreamCalls(off.id)).toEqual([]);
    // The same call where loopback is allowed reaches the upstream: the flag is what refused it.
    const on = testTag();
    const admitted = await send("allowed", "/openai/v1/chat/completions", chat(on.headers));
    expect(admitted.status).toBe(200);
    expect(await upstreamCalls(on.id)).toHaveLength(1);
  });
});

describe("POST /providers (dashboard): base_url", () => {
  let org: Org;
  beforeAll(async () => {
    org = await newOrg("BaseUrl");
  });

  it("refuses every unsafe spelling beside the base URL field, and stores nothing", async () => {
    await org.owner.b.get("/providers");
    const accepted: string[] = [];
    for (const value of REFUSED) {
      const res = await org.owner.b.post("/providers", {
        provider: "compatible",
        name: "custom-llm",
        api_key: "sk-test-0000000000000000",
        base_url: value,
      });
      if (res.status === 303 || !/id="base_url-error">[^<]+</.test(res.html)) {
        accepted.push(`${JSON.stringify(value)} ${res.status}`);
      }
    }
    expect(accepted).toEqual([]);
    expect(await ledgerFor(env, org.tenantId).listProviders()).toEqual([]);
  });

  it("accepts a public base URL", async () => {
    const res = await org.owner.b.post("/providers", {
      provider: "compatible",
      name: "custom-llm",
      api_key: "sk-test-0000000000000000",
      base_url: "https://llm.acme.dev:8443/v1",
    });
    expect(res.status).toBe(303);
  });
});
