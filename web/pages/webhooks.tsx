// /webhooks: the organisation's webhook endpoints (issue 13 §4) — the list with a notice for
// disabled ones, the add form (event types by group, high-volume ones marked) and the signing
// secret shown once after creation or rotation. An endpoint's own page: webhook-endpoint.tsx.
import { AUDIT_TYPES } from "../../shared/audit.ts";
import { CsrfField, Field, FieldError, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";

/** An endpoint as the pages show it: times already in the organisation's zone, never a secret. */
export type WebhookItem = {
  id: string;
  url: string;
  description: string;
  /** null: every type but the high-volume ones */
  types: readonly string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledSince: string | null;
  failingSince: string | null;
  secretHint: string;
  previousSecretUntil: string | null;
  lastSuccess: string | null;
  created: string;
};

export type WebhooksView = {
  csrf: string;
  mayWrite: boolean;
  highVolume: readonly string[];
  endpoints: WebhookItem[];
};

export type PageNotice = { kind: "ok" | "error" | "warn"; text: string };
export type FormState = { errors?: Record<string, string>; values?: Record<string, string>; types?: string[] };

/** Why an endpoint is disabled, in words. */
export const REASONS: Record<string, string> = {
  gone: "the receiver answered 410 Gone",
  failing: "deliveries failed for five days",
  manual: "it was disabled by hand",
};

export function reason(code: string | null): string {
  return (code && REASONS[code]) ?? "it was disabled";
}

function TypesText({ types }: { types: readonly string[] | null }) {
  if (types === null) return <>All but high-volume</>;
  return (
    <>
      {types.map((t, i) => (
        <>
          {i > 0 && ", "}
          <code>{t}</code>
        </>
      ))}
    </>
  );
}

function State({ e }: { e: WebhookItem }) {
  if (!e.enabled) {
    return (
      <>
        <span class="badge danger">disabled</span>{" "}
        <span class="hint">
          since {e.disabledSince}: {reason(e.disabledReason)}
        </span>
      </>
    );
  }
  return (
    <>
      <span class="badge ok">active</span>
      {e.failingSince && (
        <>
          {" "}
          <span class="badge warn">failing since {e.failingSince}</span>
        </>
      )}
    </>
  );
}

function EnableButton({ id, csrf }: { id: string; csrf: string }) {
  return (
    <form class="inline" method="post" action={`/webhooks/${id}/enable`}>
      <CsrfField token={csrf} />
      <button class="secondary" type="submit">
        Enable again
      </button>
    </form>
  );
}

/** A notice for each disabled endpoint: deliveries to it have stopped. */
function DisabledNotices({ v }: { v: WebhooksView }) {
  return (
    <>
      {v.endpoints
        .filter((e) => !e.enabled)
        .map((e) => (
          <Notice kind="warn">
            <strong>Deliveries to {e.url} have stopped</strong>: {reason(e.disabledReason)} (disabled {e.disabledSince}
            ). Events keep being recorded; after enabling, send the missed ones with Recover on{" "}
            <a href={`/webhooks/${e.id}`}>the endpoint's page</a>.{" "}
            {v.mayWrite && <EnableButton id={e.id} csrf={v.csrf} />}
          </Notice>
        ))}
    </>
  );
}

function SecretHint({ e }: { e: WebhookItem }) {
  return (
    <>
      <code>whsec_…{e.secretHint}</code>
      {e.previousSecretUntil && <span class="hint"> (the previous one signs too until {e.previousSecretUntil})</span>}
    </>
  );
}

/** An endpoint's cells shared by the list and its own page: description, types, state, secret, last success. */
export function EndpointCells({ e }: { e: WebhookItem }) {
  return (
    <>
      <td>{e.description || "—"}</td>
      <td>
        <TypesText types={e.types} />
      </td>
      <td>
        <State e={e} />
      </td>
      <td class="key-hint">
        <SecretHint e={e} />
      </td>
      <td class="nowrap">{e.lastSuccess ?? "never"}</td>
    </>
  );
}

/** The event-type checkboxes, grouped by the part before the dot; none ticked = the default set. */
export function EventTypesField(p: { selected: readonly string[]; highVolume: readonly string[]; error?: string }) {
  const groups = new Map<string, string[]>();
  for (const t of AUDIT_TYPES) {
    const prefix = t.split(".")[0] ?? t;
    groups.set(prefix, [...(groups.get(prefix) ?? []), t]);
  }
  return (
    <fieldset class="plain" aria-describedby={p.error ? "event_types-error" : undefined}>
      <legend>Event types</legend>
      <p class="hint">
        Tick none to receive every type except the high-volume ones (one event per proxied call or per request), which
        are sent only to endpoints that tick them.
      </p>
      <FieldError name="event_types" error={p.error} />
      {[...groups].map(([prefix, types]) => (
        <fieldset class="plain">
          <legend>{prefix}</legend>
          {types.map((t) => (
            <label class="check">
              <input type="checkbox" name="event_types" value={t} id={`type-${t}`} checked={p.selected.includes(t)} />
              <code>{t}</code>
              {p.highVolume.includes(t) && <span class="badge warn">high volume</span>}
            </label>
          ))}
        </fieldset>
      ))}
    </fieldset>
  );
}

export function EndpointFields(p: { form: FormState; highVolume: readonly string[] }) {
  const e = p.form.errors ?? {};
  const values = p.form.values ?? {};
  return (
    <>
      <Field
        name="url"
        label="URL"
        type="url"
        value={values.url}
        error={e.url}
        hint="https only; the address must be reachable from the internet. Redirects are not followed."
      />
      <Field
        name="description"
        label="Description"
        value={values.description}
        error={e.description}
        required={false}
        hint="Optional, up to 200 characters: what receives it."
      />
      <EventTypesField selected={p.form.types ?? []} highVolume={p.highVolume} error={e.event_types} />
    </>
  );
}

function AddForm(p: { v: WebhooksView; form: FormState }) {
  const e = p.form.errors ?? {};
  return (
    <section class="card" id="add" aria-labelledby="add-h">
      <h2 id="add-h">Add an endpoint</h2>
      {e.form && <Notice kind="error">{e.form}</Notice>}
      <form class="stack" method="post" action="/webhooks" data-submit-once>
        <CsrfField token={p.v.csrf} />
        <EndpointFields form={p.form} highVolume={p.v.highVolume} />
        <button type="submit">Add endpoint</button>
      </form>
    </section>
  );
}

export function WebhooksPage(p: { v: WebhooksView; notice?: PageNotice; form?: FormState }) {
  const v = p.v;
  const errors = p.form?.errors ?? {};
  return (
    <>
      <h1>Webhooks</h1>
      <p class="lead">
        Your organisation's audit trail, streamed as it is written: every event is POSTed to these endpoints, signed the
        Standard Webhooks way, retried for about a day and a half.
      </p>
      {p.notice && <Notice kind={p.notice.kind}>{p.notice.text}</Notice>}
      {Object.keys(errors).length > 0 && (
        <Notice kind="error">
          Nothing was saved: <a href="#add">see the messages in the form below</a>.
        </Notice>
      )}
      <DisabledNotices v={v} />
      {v.endpoints.length === 0 ? (
        <p class="empty">
          No endpoints yet. {v.mayWrite ? "Add one below." : "Ask an owner or admin of the organisation to add one."}
        </p>
      ) : (
        <Table headers={["URL", "Description", "Event types", "State", "Secret", "Last success"]}>
          {v.endpoints.map((e) => (
            <tr>
              <td>
                <a href={`/webhooks/${e.id}`}>
                  <code class="url">{e.url}</code>
                </a>
              </td>
              <EndpointCells e={e} />
            </tr>
          ))}
        </Table>
      )}
      {v.mayWrite && <AddForm v={v} form={p.form ?? {}} />}
    </>
  );
}

/** The signing secret, once: just after creation, or after a rotation (`rotated`). */
export function SecretShownOncePage(p: {
  endpoint: WebhookItem;
  secret: string;
  rotated?: { previousUntil: string | null };
}) {
  const e = p.endpoint;
  return (
    <>
      <h1>{p.rotated ? "New signing secret" : "Endpoint added"}</h1>
      <Notice kind="warn">
        <strong>Copy the signing secret of {e.url} now: it is never shown again.</strong>
        <p class="secret" id="new-secret">
          {p.secret}
        </p>
        <button class="secondary" type="button" data-copy="#new-secret">
          Copy
        </button>
        {p.rotated && (
          <p>
            {p.rotated.previousUntil === null
              ? "The previous secret stopped signing now."
              : `Deliveries carry a signature with the previous secret too until ${p.rotated.previousUntil}; give your receiver the new one before then.`}
          </p>
        )}
      </Notice>
      <h2>Verifying deliveries</h2>
      <p>
        Each delivery has the headers <code>webhook-id</code>, <code>webhook-timestamp</code> and{" "}
        <code>webhook-signature</code>. Any{" "}
        <a href="https://www.standardwebhooks.com/" rel="noreferrer">
          Standard Webhooks
        </a>{" "}
        library verifies them with this secret, for example in TypeScript with the <code>standardwebhooks</code>{" "}
        package:
      </p>
      <pre class="code">
        <code>{`import { Webhook } from "standardwebhooks";
const payload = new Webhook(process.env.OUTLAY_WEBHOOK_SECRET).verify(rawBody, headers); // throws if forged or stale`}</code>
      </pre>
      <p>
        Deduplicate on <code>webhook-id</code> and order by <code>data.seq</code>. The payload, the retries and snippets
        for other languages are described in <code>docs/webhooks.md</code> of Outlay's documentation.
      </p>
      <p>
        <a class="button" href={`/webhooks/${e.id}`}>
          Go to the endpoint
        </a>{" "}
        <a href="/webhooks">All endpoints</a>
      </p>
    </>
  );
}
