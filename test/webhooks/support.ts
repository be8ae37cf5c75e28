// The webhook tests' view of the receiver (demo/webhook-receiver/server.ts, started by
// test/global-setup.ts): each test uses its own hook name, tells the receiver which secrets to
// verify with and what to answer, and reads back what arrived.
import { env } from "cloudflare:workers";
import type { Delivery } from "../../demo/webhook-receiver/server.ts";
import { newId } from "../../shared/ids.ts";
import type { Tenant } from "../helpers.ts";

export type { Delivery };

export type Endpoint = { id: string; url: string; secret: string; event_types: string[] | null; enabled: boolean };

export function hookName(): string {
  return `h${newId()}`;
}

export function hookUrl(name: string): string {
  return `${env.WEBHOOK_RECEIVER_URL}/hooks/${name}`;
}

export async function plan(
  name: string,
  p: { secrets: string[]; fail?: { status: number; count: number } | null; redirectTo?: string | null },
): Promise<void> {
  const res = await fetch(`${env.WEBHOOK_RECEIVER_URL}/_control/${name}`, { method: "PUT", body: JSON.stringify(p) });
  if (res.status !== 204) throw new Error(`receiver control: ${res.status}`);
}

export async function received(name: string): Promise<Delivery[]> {
  const res = await fetch(`${env.WEBHOOK_RECEIVER_URL}/_control/${name}`);
  return (await res.json()) as Delivery[];
}

/** Polls the receiver until `done` holds for what arrived; returns it. */
export async function receivedUntil(
  name: string,
  done: (d: Delivery[]) => boolean,
  timeoutMs = 15_000,
): Promise<Delivery[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await received(name);
    if (done(got)) return got;
    if (Date.now() > until) throw new Error(`receiver ${name}: ${JSON.stringify(got.map((d) => [d.id, d.answered]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates an endpoint for a fresh hook name and tells the receiver its secret. */
export async function subscribe(
  t: Tenant,
  body: Record<string, unknown> = {},
): Promise<{ name: string; endpoint: Endpoint }> {
  const name = hookName();
  const res = await t.api("/webhooks", { method: "POST", json: { url: hookUrl(name), ...body } });
  if (res.status !== 201) throw new Error(`webhook create: ${res.status} ${await res.text()}`);
  const endpoint = (await res.json()) as Endpoint;
  await plan(name, { secrets: [endpoint.secret] });
  return { name, endpoint };
}

export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
