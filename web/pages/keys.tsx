// /keys: the organisation's proxy keys — create (the full key shown once), list with last use and
// this month's spend, revoke after a confirmation page.
import { CsrfField, Field, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";

export type KeyRow = {
  id: string;
  name: string;
  prefix: string;
  dimensions: Record<string, string>;
  createdAt: string;
  expiresAt: string | null;
  revoked: boolean;
  expired: boolean;
  lastUsed: string | null;
  spentThisMonth: string;
  mayRevoke: boolean;
};

export type KeysView = { csrf: string; mayCreate: boolean; keys: KeyRow[]; month: string };
export type CreatedKey = { name: string; key: string };

function status(k: KeyRow) {
  if (k.revoked) return <span class="badge danger">revoked</span>;
  if (k.expired) return <span class="badge warn">expired</span>;
  return <span class="badge ok">active</span>;
}

export function KeysPage(p: {
  view: KeysView;
  created?: CreatedKey;
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
      {p.created && (
        <Notice kind="warn">
          <strong>Copy the key “{p.created.name}” now: you will not see it again.</strong>
          <p class="secret" id="new-key">
            {p.created.key}
          </p>
          <button class="secondary" type="button" data-copy="#new-key">
            Copy
          </button>
        </Notice>
      )}
      {e.form && <Notice kind="error">{e.form}</Notice>}
      {v.keys.length === 0 ? (
        <p>
          No keys yet. Create one below, then set it as the API key of your OpenAI, Anthropic or Gemini SDK (see Quick
          start).
        </p>
      ) : (
        <Table
          headers={[
            "Name",
            "Key",
            "Dimensions",
            "Created",
            "Expires",
            "Last used (hour)",
            `Spent in ${v.month}`,
            "Status",
          ]}
          actions
        >
          {v.keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
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
              <td>
                {k.mayRevoke && !k.revoked && (
                  <a class="button secondary" href={`/keys/${k.id}/revoke`}>
                    Revoke…
                  </a>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {v.mayCreate && (
        <section class="card" aria-labelledby="create-h">
          <h2 id="create-h">Create a key</h2>
          <form class="stack" method="post" action="/keys">
            <CsrfField token={v.csrf} />
            <Field
              name="name"
              label="Name"
              value={p.values?.name}
              error={e.name}
              hint="Who or what uses it, e.g. search-service production"
            />
            <Field
              name="dimensions"
              label="Bound dimensions"
              value={p.values?.dimensions}
              error={e.dimensions}
              required={false}
              hint="Optional: name=value pairs separated by commas, e.g. team=search, project=assistant. Calls with this key are always attributed to them."
            />
            <Field
              name="expires"
              label="Expires on"
              type="date"
              value={p.values?.expires}
              error={e.expires}
              required={false}
              hint="Optional: the key stops working at the start of this day (UTC)."
            />
            <button type="submit">Create key</button>
          </form>
        </section>
      )}
    </>
  );
}

export function RevokeKeyPage(p: { csrf: string; id: string; name: string; prefix: string }) {
  return (
    <>
      <h1>Revoke “{p.name}”?</h1>
      <p>
        Calls with <code>{p.prefix}…</code> are refused from now on (within two seconds on gateways in lease mode). This
        cannot be undone; its usage stays in your reports.
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
