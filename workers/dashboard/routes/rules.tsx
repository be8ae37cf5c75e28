// /budgets, /policies, /rate-limits: lists (budgets with the current window: spent, held,
// remaining), create and edit forms with errors beside the fields, delete after a confirmation
// page — the same seven routes for each kind. A form is read into the management API's body and
// checked by the API's own zod schema; the tenant's ledger (the rules' single writer) saves it
// with the signed-in person as the audit actor. Policies and rate limits are listed from D1's
// mirror, budgets from the ledger (their current window); another organisation's id is a 404.
import { wantsFragment } from "../htmx.ts";
import { Hono, type Context } from "hono";
import type { z } from "zod";
import { ID_PATTERN, newId } from "../../../shared/ids.ts";
import { listKeyChoices, listRuleRows, tenantDb } from "../../store/index.ts";
import { ledgerFor } from "../../ledger/index.ts";
import { BudgetBody, budgetSpec, PolicyBody, policySpec, RateLimitBody, rateLimitSpec } from "../../services/index.ts";
import { can } from "../../auth/index.ts";
import { formValues, requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import type { RuleDraft, RuleKind, RuleRecord, RuleSpecs } from "../../ledger/index.ts";
import { orgFormat } from "../org-format.ts";
import { budgetBody, BUDGET_MESSAGES, budgetValues, NEW_BUDGET } from "../../../web/pages/rules/budget-form.tsx";
import { BudgetFormPage, BudgetList, BudgetsPage, type BudgetsView } from "../../../web/pages/rules/budgets.tsx";
import { checkForm, type FieldMessages } from "../../../web/pages/rules/convert.ts";
import {
  DeleteRulePage,
  NoSuchRulePage,
  type FieldErrors,
  type FormValues,
  type KeyOption,
  type RuleFormProps,
} from "../../../web/pages/rules/fields.tsx";
import {
  PoliciesPage,
  policyBody,
  PolicyFormPage,
  POLICY_MESSAGES,
  policyValues,
} from "../../../web/pages/rules/policies.tsx";
import {
  RateLimitFormPage,
  rateLimitBody,
  RATE_LIMIT_MESSAGES,
  RateLimitsPage,
  rateLimitValues,
} from "../../../web/pages/rules/rate-limits.tsx";

export const rulesPages = new Hono<WebEnv>();

type Ctx = Context<WebEnv>;
type Rendered = Response | Promise<Response>;

/** What differs between budgets, policies and rate limits; the routes are the same. */
type KindPages<K extends RuleKind, S extends z.ZodType> = {
  kind: K;
  base: "/budgets" | "/policies" | "/rate-limits";
  noun: string;
  /** "budgets": the list's name in links */
  plural: string;
  schema: S;
  messages: FieldMessages;
  read(values: FormValues): { body: unknown; errors: FieldErrors };
  toDraft(parsed: z.infer<S>): RuleDraft;
  valuesOf(spec: RuleSpecs[K]): FormValues;
  blank: FormValues;
  /** the list page; `saved` is the id of a rule just saved, from the redirect's query */
  list(c: Ctx, notice: { saved: string | null; deleted: boolean }): Promise<Response>;
  /** the create/edit page; `id` null when creating */
  form(c: Ctx, form: RuleFormProps, id: string | null): Promise<Response>;
  /** what deleting it does, for the confirmation page */
  effect: string;
};

/** The organisation's proxy keys (for key pickers, names in lists, and checking a posted key id). */
async function orgKeys(c: Ctx): Promise<KeyOption[]> {
  const { org } = signedInOrg(c);
  const rows = await listKeyChoices(tenantDb(c.env.DB, org.tenantId));
  return rows.map((r) => ({ id: r.id, name: r.name, prefix: r.prefix, revoked: r.revoked_at !== null }));
}

/** Policies or rate limits as D1's mirror of the ledger lists them (creation order). */
async function storedRules<K extends "policy" | "rate_limit">(c: Ctx, kind: K) {
  const { org } = signedInOrg(c);
  const f = await orgFormat(c);
  const rows = await listRuleRows(tenantDb(c.env.DB, org.tenantId), kind);
  return {
    f,
    items: rows.map((r) => ({
      id: r.id,
      spec: r.spec,
      updatedAt: f.dateTime(r.updated_at),
    })),
  };
}

function mayWrite(c: Ctx): boolean {
  return can(signedInOrg(c).org.role, "config:write");
}

function savedName(saved: string | null, items: { id: string; spec: { name: string } }[]): string | null {
  return items.find((i) => i.id === saved)?.spec.name ?? null;
}

function notice(c: Ctx): { saved: string | null; deleted: boolean } {
  return { saved: c.req.query("saved") ?? null, deleted: c.req.query("deleted") === "1" };
}

// ---- the three kinds ----------------------------------------------------------------------------

const budgets: KindPages<"budget", typeof BudgetBody> = {
  kind: "budget",
  base: "/budgets",
  noun: "budget",
  plural: "budgets",
  schema: BudgetBody,
  messages: BUDGET_MESSAGES,
  read: budgetBody,
  toDraft: (b) => ({ kind: "budget", spec: budgetSpec(b) }),
  valuesOf: budgetValues,
  blank: NEW_BUDGET,
  async list(c, { saved, deleted }) {
    const { a, org } = signedInOrg(c);
    const [statuses, keys, format] = await Promise.all([
      ledgerFor(c.env, org.tenantId).budgetStatuses(),
      orgKeys(c),
      orgFormat(c),
    ]);
    const view: BudgetsView = { csrf: a.csrf, mayWrite: mayWrite(c), budgets: statuses, keys, format };
    // htmx polls the table for fresh figures: the table alone, without the layout.
    if (wantsFragment(c)) return c.html(<BudgetList view={view} />);
    const name = savedName(saved, statuses);
    return c.render(<BudgetsPage view={view} saved={name} deleted={deleted} />, { title: "Budgets" });
  },
  async form(c, form, id) {
    const { org } = signedInOrg(c);
    const [status, format] = await Promise.all([
      id === null ? null : ledgerFor(c.env, org.tenantId).budgetStatus({ id }),
      orgFormat(c),
    ]);
    const title = status ? `Budget ${status.spec.name}` : "New budget";
    return c.render(<BudgetFormPage form={form} status={status} format={format} />, { title });
  },
  effect:
    "Calls stop counting against it at once, and the spend it recorded for its window is discarded. Usage stays in your reports.",
};

const policies: KindPages<"policy", typeof PolicyBody> = {
  kind: "policy",
  base: "/policies",
  noun: "policy",
  plural: "policies",
  schema: PolicyBody,
  messages: POLICY_MESSAGES,
  read: policyBody,
  toDraft: (p) => ({ kind: "policy", spec: policySpec(p) }),
  valuesOf: policyValues,
  blank: {},
  async list(c, { saved, deleted }) {
    const [{ items, f }, keys] = await Promise.all([storedRules(c, "policy"), orgKeys(c)]);
    const view = { mayWrite: mayWrite(c), format: f, policies: items, keys };
    return c.render(<PoliciesPage view={view} saved={savedName(saved, items)} deleted={deleted} />, {
      title: "Policies",
    });
  },
  async form(c, form, id) {
    const name = id === null ? null : (form.values.name ?? "");
    return c.render(<PolicyFormPage form={form} name={name} />, { title: name === null ? "New policy" : "Policy" });
  },
  effect: "Calls are no longer checked against it, from the next call on.",
};

const rateLimits: KindPages<"rate_limit", typeof RateLimitBody> = {
  kind: "rate_limit",
  base: "/rate-limits",
  noun: "rate limit",
  plural: "rate limits",
  schema: RateLimitBody,
  messages: RATE_LIMIT_MESSAGES,
  read: rateLimitBody,
  toDraft: (r) => ({ kind: "rate_limit", spec: rateLimitSpec(r) }),
  valuesOf: rateLimitValues,
  blank: {},
  async list(c, { saved, deleted }) {
    const [{ items, f }, keys] = await Promise.all([storedRules(c, "rate_limit"), orgKeys(c)]);
    const view = { mayWrite: mayWrite(c), limits: items, keys, format: f };
    return c.render(<RateLimitsPage view={view} saved={savedName(saved, items)} deleted={deleted} />, {
      title: "Rate limits",
    });
  },
  async form(c, form, id) {
    const name = id === null ? null : (form.values.name ?? "");
    return c.render(<RateLimitFormPage form={form} name={name} />, {
      title: name === null ? "New rate limit" : "Rate limit",
    });
  },
  effect: "Calls are no longer counted against it, from the next call on.",
};

// ---- the routes ---------------------------------------------------------------------------------

function routesFor<K extends RuleKind, S extends z.ZodType>(pages: KindPages<K, S>): void {
  const { base, kind, noun } = pages;

  // "/x/*" also matches "/x": every route needs a session and read; posts their CSRF token.
  rulesPages.use(`${base}/*`, requireAccount, requireCsrf, requirePermission("read"));
  const write = requirePermission("config:write");

  /** The rule `:id` names in this organisation (its ledger knows only its own), or null. */
  async function ruleOf(c: Ctx): Promise<RuleRecord<K> | null> {
    const id = c.req.param("id") ?? "";
    if (!ID_PATTERN.test(id)) return null;
    const { org } = signedInOrg(c);
    return (await ledgerFor(c.env, org.tenantId).getRule({ kind, id })) as RuleRecord<K> | null;
  }

  function notFound(c: Ctx): Rendered {
    c.status(404);
    return c.render(<NoSuchRulePage noun={noun} listPath={base} listName={pages.plural} />, {
      title: `No such ${noun}`,
    });
  }

  async function formPage(
    c: Ctx,
    values: FormValues,
    errors: FieldErrors,
    id: string | null,
    keys?: KeyOption[],
  ): Promise<Response> {
    const { a } = signedInOrg(c);
    const form: RuleFormProps = {
      csrf: a.csrf,
      action: id === null ? base : `${base}/${id}`,
      values,
      errors,
      keys: keys ?? (await orgKeys(c)),
      editable: mayWrite(c),
      existing: id !== null,
    };
    c.status(Object.keys(errors).length > 0 ? 400 : 200);
    return pages.form(c, form, id);
  }

  /** Reads and checks the posted form; saves it under `id` and sends the browser to the list. */
  async function save(c: Ctx, id: string, existing: boolean): Promise<Response> {
    const { a, org } = signedInOrg(c);
    const values = await formValues(c);
    const keys = await orgKeys(c);
    const checked = checkForm(pages.schema, pages.read(values), pages.messages);
    const errors = checked.ok ? {} : checked.errors;
    const draft = checked.ok ? pages.toDraft(checked.data) : null;
    const keyId = draft ? ("scope" in draft.spec ? draft.spec.scope.keyId : draft.spec.keyId) : null;
    if (keyId && !keys.some((k) => k.id === keyId)) errors.key_id = "Choose one of this organisation's keys.";
    if (!draft || Object.keys(errors).length > 0) return formPage(c, values, errors, existing ? id : null, keys);
    await ledgerFor(c.env, org.tenantId).putRule({
      tenantId: org.tenantId,
      id,
      draft,
      actor: { kind: "user", id: a.user.id },
    });
    return c.redirect(`${base}?saved=${id}`, 303);
  }

  rulesPages.get(base, (c) => pages.list(c, notice(c)));

  rulesPages.get(`${base}/new`, write, (c) => formPage(c, pages.blank, {}, null));

  rulesPages.post(base, write, (c) => save(c, newId(), false));

  rulesPages.get(`${base}/:id`, async (c) => {
    const rule = await ruleOf(c);
    if (!rule) return notFound(c);
    return formPage(c, pages.valuesOf(rule.spec), {}, rule.id);
  });

  rulesPages.post(`${base}/:id`, write, async (c) => {
    const rule = await ruleOf(c);
    if (!rule) return notFound(c);
    return save(c, rule.id, true);
  });

  rulesPages.get(`${base}/:id/delete`, write, async (c) => {
    const { a } = signedInOrg(c);
    const rule = await ruleOf(c);
    if (!rule) return notFound(c);
    return c.render(
      <DeleteRulePage
        csrf={a.csrf}
        noun={noun}
        name={rule.spec.name}
        action={`${base}/${rule.id}/delete`}
        listPath={base}
        effect={pages.effect}
      />,
      { title: `Delete ${noun}` },
    );
  });

  rulesPages.post(`${base}/:id/delete`, write, async (c) => {
    const { a, org } = signedInOrg(c);
    const rule = await ruleOf(c);
    if (!rule) return notFound(c);
    const removed = await ledgerFor(c.env, org.tenantId).deleteRule({
      tenantId: org.tenantId,
      kind,
      id: rule.id,
      actor: { kind: "user", id: a.user.id },
    });
    if (!removed) return notFound(c);
    return c.redirect(`${base}?deleted=1`, 303);
  });
}

routesFor(budgets);
routesFor(policies);
routesFor(rateLimits);
