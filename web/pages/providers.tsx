// /providers: the organisation's provider credentials (masked once saved), the known providers
// still without one, the add / replace form, "test connection" results, the removal confirmation.
import { CsrfField, Field, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";

/** A stored credential as the page shows it (never the key: only its hint). */
export type ProviderRow = {
  name: string;
  label: string;
  format: string;
  known: boolean;
  baseUrl: string | null;
  override: boolean;
  keyHint: string;
  updatedAt: string;
};

/** A known provider without a credential. */
export type KnownRow = { name: string; label: string; format: string; baseUrl: string };

export type ProvidersView = {
  csrf: string;
  mayWrite: boolean;
  configured: ProviderRow[];
  unconfigured: KnownRow[];
  /** known provider names with their labels, for the form's select */
  known: { name: string; label: string }[];
};

export type TestOutcome = { name: string; ok: boolean; text: string; at: string };
export type ProviderNotice = { kind: "ok" | "error"; text: string };

/** The value of the form's provider select for a provider that is not a known one. */
export const COMPATIBLE = "compatible";

/** A connection test's result: the content of the provider's result cell (also the htmx fragment). */
export function TestResult({ outcome }: { outcome: TestOutcome }) {
  return (
    <span class="test-result">
      <span class={outcome.ok ? "badge ok" : "badge danger"}>{outcome.ok ? "OK" : "failed"}</span> {outcome.text}{" "}
      <span class="hint">Tested {outcome.at}.</span>
    </span>
  );
}

function TestButton({ name, csrf }: { name: string; csrf: string }) {
  const action = `/providers/${name}/test`;
  return (
    <form
      class="inline provider-test"
      method="post"
      action={action}
      hx-post={action}
      hx-target={`#test-${name}`}
      hx-swap="innerHTML"
      hx-disable="find button"
    >
      <CsrfField token={csrf} />
      <button class="secondary" type="submit">
        Test connection
      </button>
      <span class="htmx-indicator hint">Testing…</span>
    </form>
  );
}

function BaseUrl({ url, override }: { url: string | null; override: boolean }) {
  if (url === null) return <>—</>;
  return (
    <>
      <code class="url">{url}</code> <span class="hint">{override ? "(override)" : "(default)"}</span>
    </>
  );
}

function EmptyState({ mayWrite }: { mayWrite: boolean }) {
  return (
    <section class="card" aria-labelledby="empty-h">
      <h2 id="empty-h">No provider credentials yet</h2>
      <p>
        A provider credential is your organisation's own API key for OpenAI, Anthropic, Google Gemini or another
        OpenAI-compatible provider. Your applications call Outlay with an Outlay proxy key; Outlay checks your budgets,
        policies and rate limits, then forwards the call to the provider with this credential. It is stored encrypted,
        used only in memory for the call, and never shown again: only its first and last characters.
      </p>
      <p>
        {mayWrite
          ? "Add one below, then make a call with a proxy key (see Quick start)."
          : "Ask an owner or admin of the organisation to add one."}
      </p>
    </section>
  );
}

function ConfiguredTable({ v, test }: { v: ProvidersView; test?: TestOutcome }) {
  return (
    <Table headers={["Provider", "Format", "Base URL", "API key", "Updated", "Connection"]} actions={v.mayWrite}>
      {v.configured.map((p) => (
        <tr>
          <td>
            {p.label} <code>{p.name}</code>
          </td>
          <td>{p.format}</td>
          <td>
            <BaseUrl url={p.baseUrl} override={p.override} />
          </td>
          <td class="key-hint">
            <code>{p.keyHint}</code>
          </td>
          <td class="nowrap">{p.updatedAt}</td>
          <td id={`test-${p.name}`} aria-live="polite">
            {test?.name === p.name ? <TestResult outcome={test} /> : <span class="hint">not tested</span>}
          </td>
          {v.mayWrite && (
            <td>
              <div class="actions">
                <TestButton name={p.name} csrf={v.csrf} />
                <a class="button secondary" href={`/providers?provider=${p.name}#add`}>
                  Replace…
                </a>
                <a class="button secondary" href={`/providers/${p.name}/remove`}>
                  Remove…
                </a>
              </div>
            </td>
          )}
        </tr>
      ))}
    </Table>
  );
}

function UnconfiguredTable({ v }: { v: ProvidersView }) {
  return (
    <Table headers={["Provider", "Format", "Default base URL", "API key"]} actions={v.mayWrite}>
      {v.unconfigured.map((p) => (
        <tr>
          <td>
            {p.label} <code>{p.name}</code>
          </td>
          <td>{p.format}</td>
          <td>
            <code class="url">{p.baseUrl}</code>
          </td>
          <td>
            <span class="badge">not set</span>
          </td>
          {v.mayWrite && (
            <td>
              <a class="button secondary" href={`/providers?provider=${p.name}#add`}>
                Add…
              </a>
            </td>
          )}
        </tr>
      ))}
    </Table>
  );
}

function ProviderForm(p: {
  v: ProvidersView;
  errors: Record<string, string>;
  values: Record<string, string>;
  replacing: ProviderRow | null;
}) {
  const e = p.errors;
  const selected = p.values.provider ?? "";
  return (
    <section class="card" id="add" aria-labelledby="add-h">
      <h2 id="add-h">
        {p.replacing ? `Replace the credential of ${p.replacing.name}` : "Add or replace a credential"}
      </h2>
      {p.replacing && (
        <Notice kind="warn">
          {p.replacing.name} already has a key (<code>{p.replacing.keyHint}</code>). Saving replaces the key and the
          base URL; calls use the new ones at once.
        </Notice>
      )}
      {e.form && <Notice kind="error">{e.form}</Notice>}
      <form class="stack" method="post" action="/providers" autocomplete="off">
        <CsrfField token={p.v.csrf} />
        <label>
          Provider
          <span class="hint">A known provider, or any other OpenAI-compatible API by a name of your choice.</span>
          <select
            name="provider"
            id="provider"
            required
            aria-invalid={e.provider ? "true" : undefined}
            aria-describedby={e.provider ? "provider-error" : undefined}
          >
            <option value="" selected={selected === ""}>
              Choose…
            </option>
            {p.v.known.map((k) => (
              <option value={k.name} selected={selected === k.name}>
                {k.label} ({k.name})
              </option>
            ))}
            <option value={COMPATIBLE} selected={selected === COMPATIBLE}>
              Another OpenAI-compatible provider (name below)
            </option>
          </select>
          {e.provider && (
            <span class="field-error" id="provider-error">
              {e.provider}
            </span>
          )}
        </label>
        <Field
          name="name"
          label="Name (OpenAI-compatible providers only)"
          value={p.values.name}
          error={e.name}
          required={false}
          hint="2-32 characters of a-z, 0-9 and '-', starting with a letter, e.g. my-vllm. Applications call it at /<name>/v1 on Outlay."
        />
        <Field
          name="api_key"
          label="API key"
          type="password"
          autocomplete="off"
          error={e.api_key}
          hint="Stored encrypted and never shown again: only its first 3 and last 4 characters."
        />
        <Field
          name="base_url"
          label="Base URL"
          type="url"
          value={p.values.base_url}
          error={e.base_url}
          required={false}
          hint="Optional for a known provider (empty: its default base URL); required for an OpenAI-compatible one, e.g. https://llm.example.com/v1. https only."
        />
        <button type="submit">Save credential</button>
      </form>
    </section>
  );
}

export function ProvidersPage(p: {
  view: ProvidersView;
  notice?: ProviderNotice;
  errors?: Record<string, string>;
  values?: Record<string, string>;
  replacing?: ProviderRow | null;
  test?: TestOutcome;
}) {
  const v = p.view;
  return (
    <>
      <h1>Providers</h1>
      <p class="lead">
        The credentials Outlay uses to call each provider for your organisation. Keys are stored encrypted and shown
        only masked.
      </p>
      {p.notice && <Notice kind={p.notice.kind}>{p.notice.text}</Notice>}
      {p.errors && Object.keys(p.errors).length > 0 && (
        <Notice kind="error">
          Nothing was saved: <a href="#add">see the messages in the form below</a>.
        </Notice>
      )}
      {v.configured.length === 0 ? (
        <EmptyState mayWrite={v.mayWrite} />
      ) : (
        <>
          <h2>Credentials</h2>
          <ConfiguredTable v={v} test={p.test} />
        </>
      )}
      {v.unconfigured.length > 0 && (
        <>
          <h2>Known providers without a credential</h2>
          <UnconfiguredTable v={v} />
        </>
      )}
      {v.mayWrite && (
        <ProviderForm v={v} errors={p.errors ?? {}} values={p.values ?? {}} replacing={p.replacing ?? null} />
      )}
    </>
  );
}

export function RemoveProviderPage(p: { csrf: string; name: string; keyHint: string }) {
  return (
    <>
      <h1>Remove the credential of {p.name}?</h1>
      <p>
        Outlay forgets the key <code>{p.keyHint}</code> and its base URL. Calls through Outlay to {p.name} are refused
        from now on (within two seconds on gateways in lease mode) until a credential is added again. Usage already
        recorded stays in your reports.
      </p>
      <form class="inline" method="post" action={`/providers/${p.name}/remove`}>
        <CsrfField token={p.csrf} />
        <button class="danger" type="submit">
          Remove the credential
        </button>
      </form>{" "}
      <a href="/providers">Cancel</a>
    </>
  );
}
