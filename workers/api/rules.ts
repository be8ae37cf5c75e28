// Budgets, policies and rate limits: /api/v1/budgets, /api/v1/policies, /api/v1/rate-limits, the
// same five routes each (POST, GET list, GET one, PUT, DELETE). Changes go through the tenant's
// ledger (their single writer), which mirrors them to D1; lists are read from D1, a single rule
// from the ledger (a budget with its current window: spent, held, remaining).
import { Hono, type Context } from "hono";
import type { z } from "zod";
import { AppError } from "../../shared/errors.ts";
import { ID_PATTERN, newId } from "../../shared/ids.ts";
import { formatUsd } from "../../shared/money.ts";
import type { AnyRule, BudgetStatus, RuleDraft, RuleKind } from "../ledger/index.ts";
import { type ApiEnv } from "./auth.ts";
import { keyExists, listRuleRows } from "../store/index.ts";
import { ledgerFor } from "../ledger/index.ts";
import { apiError, jsonBody } from "./errors.ts";
import { invalid } from "../../shared/errors.ts";
import {
  BudgetBody,
  budgetSpec,
  budgetView,
  PolicyBody,
  policySpec,
  policyView,
  RateLimitBody,
  rateLimitSpec,
  rateLimitView,
  ruleKeyId,
} from "../services/index.ts";

type RuleApiOptions<S extends z.ZodType> = {
  kind: RuleKind;
  /** singular, as in messages; the list is under `<plural>` */
  noun: string;
  plural: string;
  body: S;
  toDraft: (parsed: z.infer<S>) => RuleDraft;
};

type ApiContext = Context<ApiEnv>;

const iso = (ms: number) => new Date(ms).toISOString();

function specView(rule: RuleDraft) {
  switch (rule.kind) {
    case "budget":
      return budgetView(rule.spec);
    case "policy":
      return policyView(rule.spec);
    case "rate_limit":
      return rateLimitView(rule.spec);
  }
}

function ruleView(rule: AnyRule) {
  return { id: rule.id, ...specView(rule), created_at: iso(rule.createdAt), updated_at: iso(rule.updatedAt) };
}

function current(status: BudgetStatus) {
  const lifetime = status.spec.window.kind === "lifetime";
  return {
    window_start: lifetime ? null : iso(status.windowStart),
    window_end: lifetime ? null : iso(status.windowEnd),
    spent_usd: formatUsd(status.spentNano),
    held_usd: formatUsd(status.heldNano),
    remaining_usd: formatUsd(status.remainingNano),
  };
}

function ruleRoutes<S extends z.ZodType>(options: RuleApiOptions<S>): Hono<ApiEnv> {
  const { kind, noun } = options;
  const notFound = new AppError("not_found", `No such ${noun}.`);
  const routes = new Hono<ApiEnv>();

  /** Parses a body into a rule; a key it names must be one of this tenant's keys. */
  async function draftFrom(c: ApiContext): Promise<RuleDraft | AppError> {
    const parsed = options.body.safeParse(await jsonBody(c));
    if (!parsed.success) return invalid(parsed.error.issues);
    const draft = options.toDraft(parsed.data);
    const keyId = ruleKeyId(draft.spec);
    if (keyId !== null) {
      const field = kind === "budget" ? "scope.key_id" : "key_id";
      if (!(await keyExists(c.var.db, keyId))) return new AppError("bad_request", `${field}: no such key.`, field);
    }
    return draft;
  }

  function save(c: ApiContext, id: string, draft: RuleDraft): Promise<AnyRule> {
    const tenantId = c.get("tenantId");
    return ledgerFor(c.env, tenantId).putRule({ tenantId, id, draft, actor: c.get("actor") });
  }

  routes.post("/", async (c) => {
    const draft = await draftFrom(c);
    if (draft instanceof AppError) return apiError(c, draft);
    return c.json(ruleView(await save(c, newId(), draft)), 201);
  });

  routes.get("/", async (c) => {
    const rows = await listRuleRows(c.var.db, kind);
    const list = rows.map((r) =>
      ruleView({
        kind,
        id: r.id,
        spec: r.spec,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      } as AnyRule),
    );
    return c.json({ [options.plural]: list });
  });

  routes.get("/:id", async (c) => {
    const id = c.req.param("id");
    if (!ID_PATTERN.test(id)) return apiError(c, notFound);
    const ledger = ledgerFor(c.env, c.get("tenantId"));
    if (kind === "budget") {
      const status = await ledger.budgetStatus({ id });
      return status ? c.json({ ...ruleView(status), current: current(status) }) : apiError(c, notFound);
    }
    const rule = await ledger.getRule({ kind, id });
    return rule ? c.json(ruleView(rule)) : apiError(c, notFound);
  });

  routes.put("/:id", async (c) => {
    const id = c.req.param("id");
    if (!ID_PATTERN.test(id)) return apiError(c, notFound);
    const draft = await draftFrom(c);
    if (draft instanceof AppError) return apiError(c, draft);
    const existing = await ledgerFor(c.env, c.get("tenantId")).getRule({ kind, id });
    if (!existing) return apiError(c, notFound);
    return c.json(ruleView(await save(c, id, draft)));
  });

  routes.delete("/:id", async (c) => {
    const id = c.req.param("id");
    if (!ID_PATTERN.test(id)) return apiError(c, notFound);
    const tenantId = c.get("tenantId");
    const removed = await ledgerFor(c.env, tenantId).deleteRule({ tenantId, kind, id, actor: c.get("actor") });
    return removed ? c.body(null, 204) : apiError(c, notFound);
  });

  return routes;
}

export const budgets = ruleRoutes({
  kind: "budget",
  noun: "budget",
  plural: "budgets",
  body: BudgetBody,
  toDraft: (b) => ({ kind: "budget", spec: budgetSpec(b) }),
});
export const policies = ruleRoutes({
  kind: "policy",
  noun: "policy",
  plural: "policies",
  body: PolicyBody,
  toDraft: (p) => ({ kind: "policy", spec: policySpec(p) }),
});
export const rateLimits = ruleRoutes({
  kind: "rate_limit",
  noun: "rate limit",
  plural: "rate_limits",
  body: RateLimitBody,
  toDraft: (r) => ({ kind: "rate_limit", spec: rateLimitSpec(r) }),
});
