// /keys: the organisation's proxy keys — create (with optional allowed models and rate limits;
// the full key shown once), list with last use and this month's spend, rotate (a new secret, the
// old one valid for a chosen grace period; the new key shown once) and revoke, each after a
// confirmation page.
import { CsrfField, Field, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";

export type KeyListItem = {
  id: string;
  name: string;
  /** olk_<tenant>_<id>, the same for every secret of the key */
  prefix: string;
  /** the current secret's last four characters (null for keys made before hints) */
  hint: string | null;
  dimensions: Record<string, string>;
  createdAt: string;
  expiresAt: string | null;
  revoked: boolean;
  expired: boolean;
  lastUsed: string | null;
  spentThisMonth: string;
  /** when the key was last rotated */
  rotatedAt: string | null;
  /** the previous secret while its grace period runs */
  previous: { hint: string | null; until: string } | null;
  /** the signed-in person may rotate and revoke it */
  mayChange: boolean;
};

export type KeysView = { csrf: string; mayCreate: boolean; keys: KeyListItem[]; month: string };

/** A key shown once: just created, or just given a new secret (`rotated`). */
export type CreatedKey = {
  name: string;
  key: string;
  rotated?: { previousHint: string | null; until: string | null };
};

/** A rotation form sent again (same rotation id): nothing changed, no key to show. */
export type ReplayedRotation = { id: string; name: string };

/** How long the current secret keeps working after a rotation. */
export const GRACE_CHOICES: readonly { seconds: number; label: string }[] = [
  { seconds: 0, label: "End it now" },
  { seconds: 3_600, label: "1 hour" },
  { seconds: 86_400, label: "24 hours" },
  { seconds: 604_800, label: "7 days" },
  { seconds: 2_592_000, label: "30 days" },
];
export const DEFAULT_GRACE_SECONDS = 86_400;

export function maskedKey(prefix: string, hint: string | null): string {
  return hint === null ? `${prefix}…` : `${prefix}_…${hint}`;
}

/** The masked key as code that may wrap after each underscore (narrow screens, wide tables). */
function MaskedKey(p: { prefix: string; hint: string | null }) {
  const parts = maskedKey(p.prefix, p.hint).split("_");
  return <code>{parts.map((part, i) => (i === 0 ? part : [<wbr />, `_${part}`]))}</code>;
}

function status(k: KeyListItem) {
  if (k.revoked) return <span class="badge danger">revoked</span>;
  if (k.expired) return <span class="badge warn">expired</span>;
  return <span class="badge ok">active</span>;
}

function ShownOnce({ created }: { created: CreatedKey }) {
  const rotated = created.rotated;
  const previous = rotated?.previousHint ? `The previous key …${rotated.previousHint}` : "The previous key";
  return (
    <Notice kind="warn">
      <strong>
        {rotated ? `Copy the new key for “${created.name}” now` : `Copy the key “${created.name}” now`}: you will not
        see it again.
      </strong>
      <p class="secret" id="new-key">
        {created.key}
      </p>
      <button class="secondary" type="button" data-copy="#new-key">
        Copy
      </button>
      {rotated && (
        <p>
          {rotated.until === null
            ? `${previous} stopped working now.`
            : `${previous} keeps working until ${rotated.until}; put the new one in your applications before then.`}
        </p>
      )}
    </Notice>
  );
}

function Replayed({ replayed }: { replayed: ReplayedRotation }) {
  return (
    <Notice kind="warn">
      <strong>“{replayed.name}” was already rotated by this form.</strong>{" "}
      <span>
        The form was sent twice. The new key was shown when it was made and cannot be shown again. If you did not copy
        it, <a href={`/keys/${replayed.id}/rotate`}>rotate the key again</a>.
      </span>
    </Notice>
  );
}

function KeyCell({ k }: { k: KeyListItem }) {
  return (
    <td>
      <MaskedKey prefix={k.prefix} hint={k.hint} />
      {k.rotatedAt && (
        <span class="key-note">
          rotated {k.rotatedAt}
          {k.previous && (
            <>
              , previous key {k.previous.hint && <code>…{k.previous.hint}</code>} valid until {k.previous.until}
            </>
          )}
        </span>
      )}
    </td>
  );
}

export function KeysPage(p: {
  view: KeysView;
  created?: CreatedKey;
  replayed?: ReplayedRotation;
  errors?: Record<string, string>;
  values?: Record<string, string>;
}) {
  const v = p.view;
  const e = p.errors ?? {};
  return (
    <>
      <h1>Proxy keys</h1>
      <p class="lead">
        Applications call providers through Outlay with these keys; every call is metered and held to your budgets.
      </p>
      {p.created && <ShownOnce created={p.created} />}
      {p.replayed && <Replayed replayed={p.replayed} />}
      {e.form && <Notice kind="error">{e.form}</Notice>}
      {v.keys.length === 0 ? (
        <p>
          No keys yet. Create one below, then set it as the API key of your OpenAI, Anthropic or Gemini SDK (see Quick
          start).
        </p>
      ) : (
        <Table
          headers={["Name", "Key", "Dimensions", "Created", "Expires", "Last used", `Spent in ${v.month}`, "Status"]}
          actions
        >
          {v.keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <KeyCell k={k} />
              <td>
                {Object.entries(k.dimensions)
                  .map(([name, value]) => `${name}=${value}`)
                  .join(", ") || "—"}
              </td>
              <td class="nowrap">{k.createdAt}</td>
              <td class="nowrap">{k.expiresAt ?? "never"}</td>
              <td class="nowrap">{k.lastUsed ?? "never"}</td>
              <td class="num">{k.spentThisMonth}</td>
              <td>{status(k)}</td>
              <td class="actions">
                {k.mayChange && !k.revoked && !k.expired && (
                  <a class="button secondary" href={`/keys/${k.id}/rotate`}>
                    Rotate…
                  </a>
                )}{" "}
                {k.mayChange && !k.revoked && (
                  <a class="button secondary" href={`/keys/${k.id}/revoke`}>
                    Revoke…
                  </a>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {v.mayCreate && <CreateKeyForm csrf={v.csrf} errors={e} values={p.values ?? {}} />}
    </>
  );
}

function CreateKeyForm(p: { csrf: string; errors: Record<string, string>; values: Record<string, string> }) {
  const e = p.errors;
  return (
    <section class="card" aria-labelledby="create-h">
      <h2 id="create-h">Create a key</h2>
      <form class="stack" method="post" action="/keys" data-submit-once>
        <CsrfField token={p.csrf} />
        <Field
          name="name"
          label="Name"
          value={p.values.name}
          error={e.name}
          hint="Who or what uses it, e.g. search-service production"
        />
        <Field
          name="dimensions"
          label="Bound dimensions"
          value={p.values.dimensions}
          error={e.dimensions}
          required={false}
          hint="Optional: name=value pairs separated by commas, e.g. team=search, project=assistant. Calls with this key are always attributed to them."
        />
        <Field
          name="expires"
          label="Expires on"
          type="date"
          value={p.values.expires}
          error={e.expires}
          required={false}
          hint="Optional: the key stops working at the start of this day (UTC)."
        />
        <Field
          name="allow_models"
          label="Allowed models"
          value={p.values.allow_models}
          error={e.allow_models}
          required={false}
          hint="Optional: model names or globs (* any characters) separated by commas or spaces, e.g. gpt-4o*, claude-3-5-haiku*. Calls with this key for any other model are refused."
        />
        <Field
          name="requests_per_minute"
          label="Requests per minute"
          value={p.values.requests_per_minute}
          error={e.requests_per_minute}
          required={false}
          inputmode="numeric"
          hint="Optional: at most this many calls a minute with this key."
        />
        <Field
          name="tokens_per_minute"
          label="Tokens per minute"
          value={p.values.tokens_per_minute}
          error={e.tokens_per_minute}
          required={false}
          inputmode="numeric"
          hint="Optional: at most this many tokens (prompt and output) a minute with this key."
        />
        <button type="submit">Create key</button>
      </form>
    </section>
  );
}

export type RotateView = {
  csrf: string;
  id: string;
  name: string;
  prefix: string;
  hint: string | null;
  /** random, rendered into the form: sending the form twice rotates once */
  rotationId: string;
  /** a previous secret still in its grace period (rotating again ends it at once) */
  previous: { hint: string | null; until: string } | null;
  /** why the key cannot be rotated, or null */
  blocked: "revoked" | "expired" | "not yours" | null;
  grace: number;
};

export function RotateKeyPage(p: { view: RotateView; errors?: Record<string, string> }) {
  const v = p.view;
  const e = p.errors ?? {};
  const current = maskedKey(v.prefix, v.hint);
  return (
    <>
      <h1>Rotate “{v.name}”?</h1>
      <p>
        Rotating gives <MaskedKey prefix={v.prefix} hint={v.hint} /> a new secret. The key keeps its id, so its budgets,
        policies, rate limits and spend carry on; only the secret your applications send changes. The new key is shown
        once.
      </p>
      {e.form && <Notice kind="error">{e.form}</Notice>}
      {v.blocked === "revoked" && (
        <Notice kind="error">
          This key is revoked, and a revoked key cannot be rotated. Create a new key instead.
        </Notice>
      )}
      {v.blocked === "expired" && (
        <Notice kind="error">
          This key has expired, and an expired key cannot be rotated. Create a new key instead.
        </Notice>
      )}
      {v.blocked === "not yours" && (
        <Notice kind="error">
          Only owners, admins and the person who created this key may rotate it. Ask one of them.
        </Notice>
      )}
      {v.blocked === null && v.previous && (
        <Notice kind="warn">
          The previous key {v.previous.hint ? `…${v.previous.hint} ` : ""}is still accepted until {v.previous.until}.
          Rotating again ends it at once: only the key in use now ({current}) keeps working for the period you choose.
        </Notice>
      )}
      {v.blocked === null && (
        <form class="stack" method="post" action={`/keys/${v.id}/rotate`} data-submit-once>
          <CsrfField token={v.csrf} />
          <input type="hidden" name="rotation_id" value={v.rotationId} />
          <label>
            Keep the current key working for
            <span class="hint">
              Time to put the new key in every application; calls with the current key are refused after it (within two
              seconds on gateways in lease mode).
            </span>
            <select
              name="grace"
              id="grace"
              aria-invalid={e.grace ? "true" : undefined}
              aria-describedby={e.grace ? "grace-error" : undefined}
            >
              {GRACE_CHOICES.map((choice) => (
                <option value={String(choice.seconds)} selected={choice.seconds === v.grace}>
                  {choice.label}
                </option>
              ))}
            </select>
            {e.grace && (
              <span class="field-error" id="grace-error">
                {e.grace}
              </span>
            )}
          </label>
          <p>
            <button type="submit">Rotate the key</button> <a href="/keys">Cancel</a>
          </p>
        </form>
      )}
      {v.blocked !== null && (
        <p>
          <a href="/keys">Back to keys</a>
        </p>
      )}
    </>
  );
}

export function RevokeKeyPage(p: { csrf: string; id: string; name: string; prefix: string; hint: string | null }) {
  return (
    <>
      <h1>Revoke “{p.name}”?</h1>
      <p>
        Calls with <MaskedKey prefix={p.prefix} hint={p.hint} /> are refused from now on (within two seconds on gateways
        in lease mode), and so are calls with a previous secret still in its grace period. This cannot be undone; its
        usage stays in your reports.
      </p>
      <form class="inline" method="post" action={`/keys/${p.id}/revoke`}>
        <CsrfField token={p.csrf} />
        <button class="danger" type="submit">
          Revoke the key
        </button>
      </form>{" "}
      <a href="/keys">Cancel</a>
    </>
  );
}
