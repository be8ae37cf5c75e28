// Shared steps of the /keys page tests (keys.test.ts, keys-rotate.test.ts): keys made on the
// page and read off it, their D1 rows, calls through the gateway with them.
import { env } from "cloudflare:workers";
import { worker } from "../helpers.ts";
import { api, createToken, type Org } from "../auth/orgs.ts";
import type { ApiKeyRow } from "../../workers/store/keys.ts";

export const KEY = /olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}/;

export type Browser = Org["owner"]["b"];

export async function createKey(b: Browser, fields: Record<string, string>) {
  await b.get("/keys");
  const page = await b.post("/keys", fields);
  return { page, key: KEY.exec(page.html)?.[0] ?? null };
}

export const keyId = (key: string | null): string => key?.split("_")[2] ?? "";

/** The key's api_keys row, typed as the store's ApiKeyRow. */
export function keyRow(tenantId: string, key: string) {
  return env.DB.prepare("SELECT * FROM api_keys WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, keyId(key))
    .first<ApiKeyRow>();
}

export async function chat(key: string, model = "gpt-4o-mini") {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** The status of a call with `key` (its body read). */
export async function callStatus(key: string, model?: string): Promise<number> {
  const res = await chat(key, model);
  await res.text();
  return res.status;
}

/** Points the organisation's OpenAI provider at the demo upstream (through an admin token). */
export async function withProvider(org: Org): Promise<void> {
  const admin = await createToken(org.owner.b, "admin");
  const put = await api(admin.token, "/providers/openai", {
    method: "PUT",
    json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
  });
  if (put.status !== 200) throw new Error(`provider: ${put.status}`);
}
