// /policies: which models and providers calls may use, output-token limits, required dimensions
// and allowed source addresses — per organisation or per key; the form reads into PolicyBody.
import type { PolicySpec } from "../../../workers/ledger/index.ts";
import type { Format } from "../../format.ts";
import { Field } from "../../components/form.tsx";
import { Table } from "../../components/table.tsx";
import { list, text, wholeNumber, type FieldMessages } from "./convert.ts";
import {
  ChangeNotice,
  KeySelect,
  keyLabel,
  RuleForm,
  RuleTabs,
  type FieldErrors,
  type FormValues,
  type KeyOption,
  type RuleFormProps,
  type RuleListItem,
} from "./fields.tsx";

export const POLICY_MESSAGES: FieldMessages = {
  name: { label: "Name" },
  key_id: { label: "Key", override: () => "Choose a key from the list." },
  allow_models: { label: "Allowed models", each: "Each model pattern" },
  deny_models: { label: "Denied models", each: "Each model pattern" },
  allow_providers: { label: "Allowed providers", each: "Each provider pattern" },
  deny_providers: { label: "Denied providers", each: "Each provider pattern" },
  max_tokens_cap: { label: "Output token cap" },
  default_max_tokens: {
    label: "Default output limit",
    override: (issue) => (issue.code === "custom" ? "The default output limit must not be above the cap." : null),
  },
  required_dimensions: {
    label: "Required dimensions",
    each: "Each dimension name",
    override: (issue) =>
      issue.code === "invalid_format"
        ? 'Each dimension name must be 1-32 characters of a-z, 0-9, "_" or "-", starting with a letter or digit.'
        : null,
  },
  allowed_sources: { label: "Allowed sources", each: "Each source" },
};

/** An allow list: empty means "no allow list" (null: everything not denied). */
function allowList(value: string | undefined): string[] | null {
  const items = list(value);
  return items.length === 0 ? null : items;
}

/** A token count, or null when empty. */
function count(value: string | undefined): number | string | null {
  return wholeNumber(value) ?? null;
}

export function policyBody(v: FormValues): { body: unknown; errors: FieldErrors } {
  return {
    body: {
      name: v.name ?? "",
      key_id: text(v.key_id) ?? null,
      allow_models: allowList(v.allow_models),
      deny_models: list(v.deny_models),
      allow_providers: allowList(v.allow_providers),
      deny_providers: list(v.deny_providers),
      max_tokens_cap: count(v.max_tokens_cap),
      default_max_tokens: count(v.default_max_tokens),
      required_dimensions: list(v.required_dimensions),
      allowed_sources: allowList(v.allowed_sources),
    },
    errors: {},
  };
}

export function policyValues(spec: PolicySpec): FormValues {
  return {
    name: spec.name,
    key_id: spec.keyId ?? "",
    allow_models: (spec.allowModels ?? []).join(", "),
    deny_models: spec.denyModels.join(", "),
    allow_providers: (spec.allowProviders ?? []).join(", "),
    deny_providers: spec.denyProviders.join(", "),
    max_tokens_cap: spec.maxTokensCap === null ? "" : String(spec.maxTokensCap),
    default_max_tokens: spec.defaultMaxTokens === null ? "" : String(spec.defaultMaxTokens),
    required_dimensions: spec.requiredDimensions.join(", "),
    allowed_sources: (spec.allowedSources ?? []).join(", "),
  };
}

export function PolicyForm({ form }: { form: RuleFormProps }) {
  const v = form.values;
  const e = form.errors;
  const optional = (name: string, label: string, hint: string, numeric = false) => (
    <Field
      name={name}
      label={label}
      value={v[name]}
      error={e[name]}
      required={false}
      hint={hint}
      inputmode={numeric ? "numeric" : undefined}
    />
  );
  return (
    <RuleForm form={form} noun="policy" listPath="/policies">
      <Field name="name" label="Name" value={v.name} error={e.name} hint="Shown in refusals" />
      <KeySelect keys={form.keys} value={v.key_id} error={e.key_id} anyLabel="Every key of the organisation" />
      <fieldset class="plain">
        <legend>Models and providers</legend>
        <p class="hint">
          Patterns separated by commas: * matches any run of characters (slashes too), ? one character; case-sensitive.
        </p>
        <div class="stack">
          {optional(
            "allow_models",
            "Allowed models",
            "Empty: every model not denied, e.g. gpt-4o-mini, claude-*-haiku*",
          )}
          {optional("deny_models", "Denied models", "e.g. o1*, gpt-4.5*")}
          {optional("allow_providers", "Allowed providers", "Empty: every provider not denied, e.g. openai, anthropic")}
          {optional("deny_providers", "Denied providers", "e.g. groq")}
        </div>
      </fieldset>
      <fieldset class="plain">
        <legend>Output tokens</legend>
        <div class="stack">
          {optional(
            "max_tokens_cap",
            "Output token cap",
            "Optional: a call asking for more output tokens is refused; one asking for none gets this limit",
            true,
          )}
          {optional(
            "default_max_tokens",
            "Default output limit",
            "Optional: added to a call that sets no output limit (at most the cap)",
            true,
          )}
        </div>
      </fieldset>
      {optional(
        "required_dimensions",
        "Required dimensions",
        "Optional: dimension names every call must carry (a header x-outlay-dimension-<name>, or bound to the key), e.g. team, project",
      )}
      {optional(
        "allowed_sources",
        "Allowed sources",
        "Optional: IP addresses or CIDR ranges calls must come from, e.g. 203.0.113.0/24, 2001:db8::/32. Empty: any address",
      )}
    </RuleForm>
  );
}

/** What a policy does, in a few words for the list. */
export function policySummary(spec: PolicySpec, f: Format): string[] {
  const lines: string[] = [];
  if (spec.allowModels) lines.push(`models: only ${spec.allowModels.join(", ")}`);
  if (spec.denyModels.length > 0) lines.push(`models denied: ${spec.denyModels.join(", ")}`);
  if (spec.allowProviders) lines.push(`providers: only ${spec.allowProviders.join(", ")}`);
  if (spec.denyProviders.length > 0) lines.push(`providers denied: ${spec.denyProviders.join(", ")}`);
  if (spec.maxTokensCap !== null) lines.push(`output cap ${f.count(spec.maxTokensCap)} tokens`);
  if (spec.defaultMaxTokens !== null) lines.push(`default output limit ${f.count(spec.defaultMaxTokens)} tokens`);
  if (spec.requiredDimensions.length > 0) lines.push(`requires ${spec.requiredDimensions.join(", ")}`);
  if (spec.allowedSources) lines.push(`from ${spec.allowedSources.join(", ")}`);
  return lines.length === 0 ? ["allows everything (no rule set yet)"] : lines;
}

export type PoliciesView = {
  mayWrite: boolean;
  format: Format;
  policies: RuleListItem<PolicySpec>[];
  keys: KeyOption[];
};

export function PoliciesPage(p: { view: PoliciesView; saved: string | null; deleted: boolean }) {
  const v = p.view;
  return (
    <>
      <h1>Policies</h1>
      <RuleTabs current="policies" />
      <p class="lead">
        Policies decide which calls may go through at all: models, providers, output-token limits, required dimensions
        and source addresses. Every policy that applies to a key must allow the call; a refused call answers 403
        policy_denied naming the policy.
      </p>
      <ChangeNotice saved={p.saved} deleted={p.deleted} noun="policy" />
      {v.mayWrite && (
        <p>
          <a class="button" href="/policies/new">
            New policy
          </a>
        </p>
      )}
      {v.policies.length === 0 ? (
        <section class="card empty">
          <h2>No policies yet</h2>
          <p>
            Every key may call every model of every provider the organisation has credentials for. A policy can narrow
            that — for instance allow only gpt-4o-mini and claude-*-haiku*, cap output at 2,000 tokens, or accept calls
            only from your office network — for every key or for one.
          </p>
          {v.mayWrite ? (
            <p>
              <a href="/policies/new">Create the first policy</a>.
            </p>
          ) : (
            <p>Owners and admins of the organisation can create policies.</p>
          )}
        </section>
      ) : (
        <Table headers={["Policy", "Applies to", "Rules", "Changed"]}>
          {v.policies.map((r) => (
            <tr>
              <td>
                <a href={`/policies/${r.id}`}>{r.spec.name}</a>
              </td>
              <td>{r.spec.keyId ? keyLabel(v.keys, r.spec.keyId) : "Every key"}</td>
              <td>
                <ul class="plain">
                  {policySummary(r.spec, v.format).map((line) => (
                    <li>{line}</li>
                  ))}
                </ul>
              </td>
              <td class="nowrap">{r.updatedAt}</td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}

export function PolicyFormPage(p: { form: RuleFormProps; name: string | null }) {
  return (
    <>
      <h1>{p.name === null ? "New policy" : `Policy “${p.name}”`}</h1>
      <RuleTabs current="policies" />
      {!p.form.editable && (
        <p class="notice" role="status">
          You can see this policy; owners and admins can change it.
        </p>
      )}
      <PolicyForm form={p.form} />
    </>
  );
}
