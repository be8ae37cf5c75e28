// Requests and tokens per minute, per key and per tenant, as token buckets: each limit holds up
// to one minute's allowance and refills continuously. A call takes one request and its
// worst-case tokens (prompt estimate + output limit) at admission; settlement gives back what
// the call did not use. Buckets live in memory: the ledger is one instance per tenant, and a
// restart (deploy, eviction after idle) at most refills them once.
import type { RuleRecord } from "./types.ts";

const MINUTE_MS = 60_000;

type Bucket = { level: number; at: number };
type Buckets = { requests: Bucket; tokens: Bucket };

export type RateVerdict =
  | { ok: true }
  | { ok: false; limit: RuleRecord<"rate_limit">; retryAfterSeconds: number; message: string };

function refill(bucket: Bucket, perMinute: number, now: number): number {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.level = Math.min(perMinute, bucket.level + (elapsed * perMinute) / MINUTE_MS);
  bucket.at = Math.max(bucket.at, now);
  return bucket.level;
}

function waitSeconds(deficit: number, perMinute: number): number {
  return Math.max(1, Math.ceil((deficit * MINUTE_MS) / perMinute / 1000));
}

export class RateLimiter {
  #buckets = new Map<string, Buckets>();

  #for(limit: RuleRecord<"rate_limit">, now: number): Buckets {
    let buckets = this.#buckets.get(limit.id);
    if (!buckets) {
      buckets = {
        requests: { level: limit.spec.requestsPerMinute ?? 0, at: now },
        tokens: { level: limit.spec.tokensPerMinute ?? 0, at: now },
      };
      this.#buckets.set(limit.id, buckets);
    }
    return buckets;
  }

  /** Whether every limit has room for one request of `tokens` tokens; takes nothing. */
  check(limits: readonly RuleRecord<"rate_limit">[], tokens: number, now: number): RateVerdict {
    for (const limit of limits) {
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limit.spec;
      const buckets = this.#for(limit, now);
      if (rpm !== null && refill(buckets.requests, rpm, now) < 1) {
        const retryAfterSeconds = waitSeconds(1 - buckets.requests.level, rpm);
        return { ok: false, limit, retryAfterSeconds, message: `${rpm} requests per minute` };
      }
      if (tpm !== null && tokens > tpm) {
        return {
          ok: false,
          limit,
          retryAfterSeconds: 60,
          message: `${tpm} tokens per minute (this request may use up to ${tokens} tokens; lower max_tokens)`,
        };
      }
      if (tpm !== null && refill(buckets.tokens, tpm, now) < tokens) {
        const retryAfterSeconds = waitSeconds(tokens - buckets.tokens.level, tpm);
        return { ok: false, limit, retryAfterSeconds, message: `${tpm} tokens per minute` };
      }
    }
    return { ok: true };
  }

  take(limits: readonly RuleRecord<"rate_limit">[], tokens: number, now: number): void {
    for (const limit of limits) {
      const buckets = this.#for(limit, now);
      if (limit.spec.requestsPerMinute !== null) buckets.requests.level -= 1;
      if (limit.spec.tokensPerMinute !== null) buckets.tokens.level -= tokens;
    }
  }

  /** Gives back tokens a settled call held but did not use. */
  refund(limits: readonly RuleRecord<"rate_limit">[], tokens: number, now: number): void {
    if (tokens <= 0) return;
    for (const limit of limits) {
      const tpm = limit.spec.tokensPerMinute;
      const buckets = this.#buckets.get(limit.id);
      if (tpm === null || !buckets) continue;
      buckets.tokens.level = Math.min(tpm, refill(buckets.tokens, tpm, now) + tokens);
    }
  }

  /**
   * Tops a gateway isolate's share up to 1/`share` of what the bucket and the share hold
   * together (taken from the bucket); `kept` is what the isolate still has.
   */
  lend(
    limit: RuleRecord<"rate_limit">,
    share: number,
    kept: { requests: number; tokens: number },
    now: number,
  ): { requests: number; tokens: number } {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limit.spec;
    const buckets = this.#for(limit, now);
    const topUp = (bucket: Bucket, perMinute: number | null, held: number) => {
      if (perMinute === null) return Number.MAX_SAFE_INTEGER;
      const level = refill(bucket, perMinute, now);
      const add = Math.min(Math.max(0, Math.floor((level + held) / share) - held), Math.floor(level));
      bucket.level -= add;
      return add;
    };
    return {
      requests: topUp(buckets.requests, rpm, kept.requests),
      tokens: topUp(buckets.tokens, tpm, kept.tokens),
    };
  }

  /** Takes back what an isolate did not use of what it was lent. */
  giveBack(limit: RuleRecord<"rate_limit">, requests: number, tokens: number, now: number): void {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limit.spec;
    const buckets = this.#buckets.get(limit.id);
    if (!buckets) return;
    if (rpm !== null && requests > 0)
      buckets.requests.level = Math.min(rpm, refill(buckets.requests, rpm, now) + requests);
    if (tpm !== null && tokens > 0) buckets.tokens.level = Math.min(tpm, refill(buckets.tokens, tpm, now) + tokens);
  }

  /** A limit changed or went away: its buckets start full under the new numbers. */
  forget(id: string): void {
    this.#buckets.delete(id);
  }
}
