// Helpers of the overview and usage explorer tests: usage events to seed D1 with (through the usage
// consumer's own writeUsage), the organisation's zone, keys made on /keys, and readers of the
// pages' tables and of CSV.
import { newRequestId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import type { Browser } from "../auth/browser.ts";

export function usageEvent(tenantId: string, startedAt: number, over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    v: 1,
    requestId: newRequestId(startedAt),
    tenantId,
    keyId: "aaaaaaaaaaaa",
    provider: "openai",
    model: "gpt-4o",
    endpoint: "chat.completions",
    stream: false,
    status: 200,
    outcome: "ok",
    usage: { inputTokens: 1000, cachedInputTokens: 200, cacheWriteTokens: 0, outputTokens: 500, reasoningTokens: 0 },
    usageSource: "provider",
    costNanoUsd: 1_234_567_891,
    price: null,
    startedAt,
    firstByteMs: 5,
    totalMs: 9,
    dimensions: {},
    ...over,
  };
}

export async function setZone(b: Browser, timeZone: string, locale = "en-US") {
  await b.get("/org/settings");
  const page = await b.post("/org/settings/region", { time_zone: timeZone, locale });
  if (page.status !== 200) throw new Error(`region: ${page.status}`);
}

export async function createKey(b: Browser, name: string): Promise<string> {
  await b.get("/keys");
  const page = await b.post("/keys", { name });
  const id = /olk_[a-z2-7]{12}_([a-z2-7]{12})_[a-z2-7]{32}/.exec(page.html)?.[1];
  if (!id) throw new Error(`key: ${page.status}`);
  return id;
}

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };

export function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, " ")
    .replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m] ?? m)
    .replace(/\s+/g, " ")
    .replace(/ ([,.:;)…])/g, "$1")
    .trim();
}

/** The results table: each body row's cells, and the footer's. */
export function table(html: string): { rows: string[][]; total: string[] } {
  const section = html.slice(html.indexOf('id="usage-results"'));
  const cells = (tr: string) => [...tr.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((m) => text(m[1] ?? ""));
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(section)?.[1] ?? "";
  const foot = /<tfoot>([\s\S]*?)<\/tfoot>/.exec(section)?.[1] ?? "";
  return { rows: [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => cells(m[1] ?? "")), total: cells(foot) };
}

/** RFC 4180: quoted cells with doubled quotes, CRLF lines. */
export function parseCsv(body: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && body[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  return rows;
}
