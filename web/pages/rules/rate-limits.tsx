// /rate-limits (a tab of Policies): requests and tokens per minute, for one key or for the whole
// organisation; the form reads into the API's RateLimitBody.
import type { RateLimitSpec } from "../../../workers/ledger/index.ts";
import { Field } from "../../components/form.tsx";
import { Table } from "../../components/table.tsx";
import type { Format } from "../../format.ts";
import { text, wholeNumber, type FieldMessages } from "./convert.ts";
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

export const RATE_LIMIT_MESSAGES: FieldMessages = {
  name: { label: "Name" },
  key_id: { label: "Key", override: () => "Choose a key from the list." },
  requests_per_minute: {
    label: "Requests per minute",
    override: (issue) => (issue.code === "custom" ? "Set requests per minute, tokens per minute or both." : null),
  },
  tokens_per_minute: { label: "Tokens per minute" },
};

export function rateLimitBody(v: FormValues): { body: unknown; errors: FieldErrors } {
  return {
    body: {
      name: v.name ?? "",
      key_id: text(v.key_id) ?? null,
      requests_per_minute: wholeNumber(v.requests_per_minute) ?? null,
      tokens_per_minute: wholeNumber(v.tokens_per_minute) ?? null,
    },
    errors: {},
  };
}

export function rateLimitValues(spec: RateLimitSpec): FormValues {
  return {
    name: spec.name,
    key_id: spec.keyId ?? "",
    requests_per_minute: spec.requestsPerMinute === null ? "" : String(spec.requestsPerMinute),
    tokens_per_minute: spec.tokensPerMinute === null ? "" : String(spec.tokensPerMinute),
  };
}

export function RateLimitForm({ form }: { form: RuleFormProps }) {
  const v = form.values;
  const e = form.errors;
  return (
    <RuleForm form={form} noun="rate limit" listPath="/rate-limits">
      <Field name="name" label="Name" value={v.name} error={e.name} hint="Shown in refusals" />
      <KeySelect
        keys={form.keys}
        value={v.key_id}
        error={e.key_id}
        anyLabel="The whole organisation (all keys together)"
      />
      <Field
        name="requests_per_minute"
        label="Requests per minute"
        value={v.requests_per_minute}
        error={e.requests_per_minute}
        required={false}
        inputmode="numeric"
        hint="Optional: 1 to 1,000,000"
      />
      <Field
        name="tokens_per_minute"
        label="Tokens per minute"
        value={v.tokens_per_minute}
        error={e.tokens_per_minute}
        required={false}
        inputmode="numeric"
        hint="Optional: 1 to 10,000,000; a call takes its prompt estimate plus its output limit, and gets back what it did not use"
      />
    </RuleForm>
  );
}

export type RateLimitsView = {
  mayWrite: boolean;
  limits: RuleListItem<RateLimitSpec>[];
  keys: KeyOption[];
  format: Format;
};

export function RateLimitsPage(p: { view: RateLimitsView; saved: string | null; deleted: boolean }) {
  const v = p.view;
  const f = v.format;
  return (
    <>
      <h1>Rate limits</h1>
      <RuleTabs current="rate-limits" />
      <p class="lead">
        A rate limit smooths traffic: requests and tokens per minute, refilled continuously. A call over the limit
        answers 429 rate_limited with a Retry-After the SDKs honour.
      </p>
      <ChangeNotice saved={p.saved} deleted={p.deleted} noun="rate limit" />
      {v.mayWrite && (
        <p>
          <a class="button" href="/rate-limits/new">
            New rate limit
          </a>
        </p>
      )}
      {v.limits.length === 0 ? (
        <section class="card empty">
          <h2>No rate limits yet</h2>
          <p>
            Calls are limited only by your providers. A rate limit per key keeps one runaway script from using the whole
            organisation's capacity; one for the organisation caps all keys together.
          </p>
          {v.mayWrite ? (
            <p>
              <a href="/rate-limits/new">Create the first rate limit</a>.
            </p>
          ) : (
            <p>Owners and admins of the organisation can create rate limits.</p>
          )}
        </section>
      ) : (
        <Table headers={["Rate limit", "Applies to", "Requests / min", "Tokens / min", "Changed"]}>
          {v.limits.map((r) => (
            <tr>
              <td>
                <a href={`/rate-limits/${r.id}`}>{r.spec.name}</a>
              </td>
              <td>{r.spec.keyId ? keyLabel(v.keys, r.spec.keyId) : "The whole organisation"}</td>
              <td class="num">{r.spec.requestsPerMinute === null ? "no limit" : f.count(r.spec.requestsPerMinute)}</td>
              <td class="num">{r.spec.tokensPerMinute === null ? "no limit" : f.count(r.spec.tokensPerMinute)}</td>
              <td class="nowrap">{r.updatedAt}</td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}

export function RateLimitFormPage(p: { form: RuleFormProps; name: string | null }) {
  return (
    <>
      <h1>{p.name === null ? "New rate limit" : `Rate limit “${p.name}”`}</h1>
      <RuleTabs current="rate-limits" />
      {!p.form.editable && (
        <p class="notice" role="status">
          You can see this rate limit; owners and admins can change it.
        </p>
      )}
      <RateLimitForm form={p.form} />
    </>
  );
}
