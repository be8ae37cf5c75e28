// What a usage event and a call.admitted audit event take in compressed batches: the figures
// behind issue 15's decision that per-call records leave D1 (docs/benchmarks.md, "Where per-call
// records go"). Events of a realistic mix (3 keys, 4 models on 2 providers, 0-3 dimensions,
// varying tokens and timings, request ids as the gateway makes them), in the shapes the queues
// carry; each batch is NDJSON gzipped with CompressionStream, 20 batches per size.
//   node test/bench/event-batches.ts
import { newRequestId } from "../../shared/ids.ts";
import type { AuditEvent } from "../../shared/audit.ts";
import type { UsageEvent } from "../../shared/usage.ts";

const MODELS = [
  ["openai", "gpt-4o-mini"],
  ["openai", "gpt-4o"],
  ["anthropic", "claude-3-5-haiku-20241022"],
  ["openai", "text-embedding-3-small"],
] as const;
const KEYS = ["k3v7q2mx9dpa", "b6t4rz2nq8ke", "x2m9pd7wq4ra"] as const;
const TENANT = "t4mq7z2kx9pa";
const ROUNDS = 20;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const upTo = (n: number) => Math.floor(Math.random() * n);

let clock = Date.UTC(2026, 11, 3, 9);

function usageEvent(): UsageEvent {
  clock += upTo(20);
  const [provider, model] = pick(MODELS);
  const input = 50 + upTo(4_000);
  const output = upTo(800);
  const dimensions: Record<string, string> = {};
  if (upTo(3) > 0) dimensions.team = pick(["search", "support", "growth"]);
  if (upTo(2) > 0) dimensions.feature = pick(["summarise", "chat", "classify", "extract"]);
  return {
    v: 1,
    requestId: newRequestId(clock),
    tenantId: TENANT,
    keyId: pick(KEYS),
    provider,
    model,
    endpoint: "chat.completions",
    stream: upTo(2) === 1,
    status: 200,
    outcome: "ok",
    usage: {
      inputTokens: input,
      cachedInputTokens: upTo(3) === 0 ? upTo(input) : 0,
      cacheWriteTokens: 0,
      outputTokens: output,
      reasoningTokens: 0,
    },
    usageSource: "provider",
    costNanoUsd: input * 150 + output * 600,
    price: {
      source: "catalog",
      ref: `${provider}/${model}`,
      input: "0.15",
      cachedInput: "0.075",
      cacheWrite: "0",
      output: "0.6",
    },
    startedAt: clock,
    firstByteMs: 200 + upTo(600),
    totalMs: 400 + upTo(5_000),
    dimensions,
  };
}

function admitted(seq: number, e: UsageEvent): AuditEvent {
  return {
    v: 1,
    tenantId: TENANT,
    seq,
    at: e.startedAt,
    type: "call.admitted",
    actor: { kind: "key", id: e.keyId },
    requestId: e.requestId,
    subject: null,
    data: {
      provider: e.provider,
      model: e.model,
      heldNanoUsd: String((e.costNanoUsd ?? 0) * 3),
      tokens: e.usage.inputTokens + 4_096,
      budgets: [],
    },
  };
}

async function gzipBytes(text: string): Promise<number> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const lines = ["| batch of | usage event, raw JSON → gzip | `call.admitted`, raw JSON → gzip |", "|---:|---:|---:|"];
for (const size of [20, 100, 1_000]) {
  const sums = { usage: 0, usageGz: 0, audit: 0, auditGz: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const events = Array.from({ length: size }, usageEvent);
    const usage = events.map((e) => JSON.stringify(e)).join("\n");
    const audit = events.map((e, i) => JSON.stringify(admitted(i + 1, e))).join("\n");
    sums.usage += usage.length;
    sums.usageGz += await gzipBytes(usage);
    sums.audit += audit.length;
    sums.auditGz += await gzipBytes(audit);
  }
  const per = (bytes: number) => Math.round(bytes / (size * ROUNDS));
  lines.push(
    `| ${size.toLocaleString("en-US")} | ${per(sums.usage)} → ${per(sums.usageGz)} B | ${per(sums.audit)} → ${per(sums.auditGz)} B |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
