// Proxy keys, for the management API and the dashboard alike: minting a key with the limits it is
// created with, rotating and revoking it (members only their own), listing the D1 mirror. Changes
// go through the tenant's ledger, which stores them, mirrors them to D1 and audits them.
import { actorRef, type AuditActor } from "../../shared/audit.ts";
import { keyHash } from "../../shared/crypto.ts";
import { checkDimension, MAX_DIMENSIONS } from "../../shared/dimensions.ts";
import { AppError, invalid } from "../../shared/errors.ts";
import { ID_PATTERN, newId } from "../../shared/ids.ts";
import { keyHint, mintKey, remintKey } from "../../shared/keys.ts";
import { findKeyCreator, keyDimensions, type KeyListRow, listKeyRows, tenantDb } from "../store/index.ts";
import { can, type Role } from "../auth/index.ts";
import { type KeyRecord, ledgerFor, MAX_GRACE_MS, type RuleDraft } from "../ledger/index.ts";
import { PolicyBody, policySpec, RateLimitBody, rateLimitSpec } from "./rules.ts";

/** Rate limits a key may be created with (the same bounds as /api/v1/rate-limits). */
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;
export const MAX_TOKENS_PER_MINUTE = 10_000_000;
/** Model globs a key may be created with. */
export const MAX_ALLOWED_MODELS = 100;
export const MAX_GRACE_SECONDS = MAX_GRACE_MS / 1000;
/** A listed api_keys row as the ledger's record of the key. */
function keyRecordOf(r: KeyListRow): KeyRecord {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    dimensions: keyDimensions(r),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    hint: r.secret_hint,
    rotatedAt: r.rotated_at,
    previousHint: r.previous_hint,
    previousUntil: r.previous_until,
  };
}

/** Optional limits a key is created with: a key-scoped policy and rate limit. */
export type KeyLimits = {
  /** model globs; null or empty: no allow list */
  allowModels: string[] | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
};

export const NO_LIMITS: KeyLimits = { allowModels: null, requestsPerMinute: null, tokensPerMinute: null };

export type NewProxyKey = {
  name: string;
  dimensions: Record<string, string>;
  expiresAt: number | null;
  limits?: KeyLimits;
};

/** Checks a key's dimensions and expiry; the problem as an AppError naming the field, or null. */
export function proxyKeyProblem(k: NewProxyKey, now = Date.now()): AppError | null {
  if (Object.keys(k.dimensions).length > MAX_DIMENSIONS) {
    return new AppError("bad_request", `A key may bind at most ${MAX_DIMENSIONS} dimensions.`, "dimensions");
  }
  for (const [name, value] of Object.entries(k.dimensions)) {
    const problem = checkDimension(name, value);
    if (problem) return new AppError("bad_request", problem.message, `dimensions.${name}`);
  }
  if (k.expiresAt !== null && k.expiresAt <= now) {
    return new AppError("bad_request", "expires_at must be in the future.", "expires_at");
  }
  return null;
}

function wholeNumberProblem(value: number | null, field: string, max: number): AppError | null {
  if (value === null || (Number.isInteger(value) && value >= 1 && value <= max)) return null;
  return new AppError("bad_request", `${field} must be a whole number from 1 to ${max}.`, field);
}

/** The policy and rate limit a key is created with (none, one or both), or the problem naming
 * the field: allow_models, requests_per_minute or tokens_per_minute. */
export function keyRuleDrafts(
  keyId: string,
  keyName: string,
  limits: KeyLimits,
): { id: string; draft: RuleDraft }[] | AppError {
  const drafts: { id: string; draft: RuleDraft }[] = [];
  const label = `key ${keyName.slice(0, 70)}`;
  const models = limits.allowModels ?? [];
  if (models.length > MAX_ALLOWED_MODELS) {
    return new AppError("bad_request", `List at most ${MAX_ALLOWED_MODELS} models.`, "allow_models");
  }
  const badGlob = models.find((m) => m.trim() !== m || m.length < 1 || m.length > 200 || /[\s,]/.test(m));
  if (badGlob !== undefined) {
    return new AppError(
      "bad_request",
      `"${badGlob.slice(0, 40)}" is not a model name or glob (1 to 200 characters, no spaces or commas).`,
      "allow_models",
    );
  }
  if (models.length > 0) {
    const policy = PolicyBody.safeParse({ name: `${label}: allowed models`, key_id: keyId, allow_models: models });
    if (!policy.success) return new AppError("bad_request", invalid(policy.error.issues).message, "allow_models");
    drafts.push({ id: newId(), draft: { kind: "policy", spec: policySpec(policy.data) } });
  }
  const problem =
    wholeNumberProblem(limits.requestsPerMinute, "requests_per_minute", MAX_REQUESTS_PER_MINUTE) ??
    wholeNumberProblem(limits.tokensPerMinute, "tokens_per_minute", MAX_TOKENS_PER_MINUTE);
  if (problem) return problem;
  if (limits.requestsPerMinute !== null || limits.tokensPerMinute !== null) {
    const limit = RateLimitBody.safeParse({
      name: `${label}: rate limit`,
      key_id: keyId,
      requests_per_minute: limits.requestsPerMinute,
      tokens_per_minute: limits.tokensPerMinute,
    });
    if (!limit.success) return invalid(limit.error.issues);
    drafts.push({ id: newId(), draft: { kind: "rate_limit", spec: rateLimitSpec(limit.data) } });
  }
  return drafts;
}

/** Mints a proxy key, hands its hash (and the rules it is created with) to the tenant's ledger,
 * which stores them in one transaction, mirrors them to D1 and audits them with `actor`; returns
 * the record and the full key — the only time it exists — or the problem with the limits. */
export async function createProxyKey(
  env: Env,
  tenantId: string,
  k: NewProxyKey,
  actor: AuditActor,
): Promise<{ record: KeyRecord; key: string } | AppError> {
  const minted = mintKey("olk", tenantId);
  const rules = keyRuleDrafts(minted.id, k.name, k.limits ?? NO_LIMITS);
  if (rules instanceof AppError) return rules;
  const hash = await keyHash(env.KEY_PEPPER, minted.key);
  const record = await ledgerFor(env, tenantId).createKey({
    tenantId,
    key: {
      id: minted.id,
      hash,
      name: k.name,
      prefix: minted.prefix,
      dimensions: k.dimensions,
      expiresAt: k.expiresAt,
      hint: keyHint(minted.key),
    },
    rules,
    actor,
    now: Date.now(),
  });
  return { record, key: minted.key };
}

/** The tenant's keys (the D1 mirror of the ledger's), newest first. */
export async function listKeys(env: Env, tenantId: string): Promise<KeyRecord[]> {
  const rows = await listKeyRows(tenantDb(env.DB, tenantId));
  return rows.map(keyRecordOf);
}

/** Who is changing a key: their role and audit actor. */
export type KeyChanger = { role: Role; actor: AuditActor };

/** Whether `who` may change (rotate, revoke) key `id`: `keys:any` any key of the tenant,
 * `keys:own` only keys `who.actor` created. The refusal as an AppError, or null. */
export async function keyChangeRefusal(
  env: Env,
  tenantId: string,
  id: string,
  who: KeyChanger,
  verb: "revoke" | "rotate",
): Promise<AppError | null> {
  const notFound = new AppError("not_found", "No such key.");
  if (!ID_PATTERN.test(id)) return notFound;
  if (can(who.role, "keys:any")) return null;
  const row = await findKeyCreator(tenantDb(env.DB, tenantId), id);
  if (!row) return notFound;
  if (!can(who.role, "keys:own") || row.created_by !== actorRef(who.actor)) {
    return new AppError("forbidden", `Members may ${verb} only the keys they created.`);
  }
  return null;
}

/** Revokes a key if `who` may (see keyChangeRefusal). */
export async function revokeProxyKey(
  env: Env,
  tenantId: string,
  id: string,
  who: KeyChanger,
): Promise<KeyRecord | AppError> {
  const refusal = await keyChangeRefusal(env, tenantId, id, who, "revoke");
  if (refusal) return refusal;
  const record = await ledgerFor(env, tenantId).revokeKey({ tenantId, id, actor: who.actor, now: Date.now() });
  return record ?? new AppError("not_found", "No such key.");
}

export type Rotated =
  | { outcome: "rotated"; record: KeyRecord; key: string }
  /** the rotation id was the key's last one: nothing changed, and there is no new key to show */
  | { outcome: "replayed"; record: KeyRecord };

/** Gives key `id` a new secret if `who` may (see keyChangeRefusal); the old secret stays valid
 * for `graceSeconds`. A rotation id the key's last rotation had answers "replayed". */
export async function rotateProxyKey(
  env: Env,
  tenantId: string,
  id: string,
  who: KeyChanger,
  rotation: { graceSeconds: number; rotationId: string },
): Promise<Rotated | AppError> {
  const refusal = await keyChangeRefusal(env, tenantId, id, who, "rotate");
  if (refusal) return refusal;
  const minted = remintKey("olk", tenantId, id);
  const hash = await keyHash(env.KEY_PEPPER, minted.key);
  const result = await ledgerFor(env, tenantId).rotateKey({
    tenantId,
    id,
    rotation: {
      rotationId: rotation.rotationId,
      hash,
      hint: keyHint(minted.key),
      graceMs: rotation.graceSeconds * 1000,
    },
    actor: who.actor,
    now: Date.now(),
  });
  switch (result.outcome) {
    case "not_found":
      return new AppError("not_found", "No such key.");
    case "revoked":
      return new AppError("conflict", "This key is revoked, and a revoked key cannot be rotated. Create a new key.");
    case "expired":
      return new AppError("conflict", "This key has expired, and an expired key cannot be rotated. Create a new key.");
    case "replayed":
      return { outcome: "replayed", record: result.key };
    case "rotated":
      return { outcome: "rotated", record: result.key, key: minted.key };
  }
}
