// /webhooks/:id: one webhook endpoint — its details, its recent delivery attempts (newest first,
// an Older pager) and, for those who may change it, the forms: edit, enable/disable, rotate the
// secret, send a test, recover, replay; the delete confirmation; the page of an unknown id.
import type { Child } from "hono/jsx";
import { CsrfField, Field, FieldError, Notice } from "../components/form.tsx";
import { Table } from "../components/table.tsx";
import {
  EndpointCells,
  EndpointFields,
  reason,
  type FormState,
  type PageNotice,
  type WebhookItem,
  type WebhooksView,
} from "./webhooks.tsx";

export type DeliveryItem = {
  at: string;
  seq: number | null;
  type: string;
  attempt: number;
  status: number | null;
  latencyMs: number;
  error: string | null;
};

export type WebhookDetailView = WebhooksView & {
  endpoint: WebhookItem;
  deliveries: DeliveryItem[];
  /** the query of the next page of older attempts, or null */
  older: string | null;
  /** this is a page of older attempts (a link back to the newest is shown) */
  paged: boolean;
  timeZone: string;
  defaultOverlapHours: number;
};

export function DeliveriesTable(p: { v: WebhookDetailView }) {
  const v = p.v;
  if (v.deliveries.length === 0) {
    return <p class="empty">{v.paged ? "No older attempts." : "No delivery attempts yet."}</p>;
  }
  return (
    <>
      <Table headers={["Time", "Seq", "Type", "Attempt", "Status", "Latency", "Error"]} caption="Delivery attempts">
        {v.deliveries.map((d) => (
          <tr>
            <td class="nowrap">{d.at}</td>
            <td>{d.seq ?? "—"}</td>
            <td>
              <code>{d.type}</code>
            </td>
            <td>{d.attempt}</td>
            <td>
              {d.status === null ? (
                "—"
              ) : (
                <span class={d.status >= 200 && d.status < 300 ? "badge ok" : "badge danger"}>{d.status}</span>
              )}
            </td>
            <td>{d.latencyMs} ms</td>
            <td>{d.error ?? "—"}</td>
          </tr>
        ))}
      </Table>
      {(v.older || v.paged) && (
        <nav class="pager" aria-label="Delivery attempts">
          {v.paged && <a href={`/webhooks/${v.endpoint.id}#deliveries`}>Newest</a>}
          {v.older && <a href={`/webhooks/${v.endpoint.id}?${v.older}#deliveries`}>Older</a>}
        </nav>
      )}
    </>
  );
}

function Card(p: { id: string; title: string; children?: Child }) {
  return (
    <section class="card" id={p.id} aria-labelledby={`${p.id}-h`}>
      <h2 id={`${p.id}-h`}>{p.title}</h2>
      {p.children}
    </section>
  );
}

function ActionForm(p: { action: string; csrf: string; label: string; children?: Child; kind?: "secondary" }) {
  return (
    <form class="stack" method="post" action={p.action}>
      <CsrfField token={p.csrf} />
      {p.children}
      <div>
        <button class={p.kind} type="submit">
          {p.label}
        </button>
      </div>
    </form>
  );
}

function Forms(p: { v: WebhookDetailView; form: FormState }) {
  const { v } = p;
  const e = p.form.errors ?? {};
  const values = p.form.values ?? {};
  const base = `/webhooks/${v.endpoint.id}`;
  return (
    <>
      <Card id="edit" title="Edit">
        <ActionForm action={`${base}/edit`} csrf={v.csrf} label="Save changes">
          <EndpointFields form={p.form} highVolume={v.highVolume} />
        </ActionForm>
      </Card>
      <Card id="state" title={v.endpoint.enabled ? "Disable" : "Enable"}>
        <p>
          {v.endpoint.enabled
            ? "A disabled endpoint receives nothing; events keep being recorded and can be sent later with Recover or Replay."
            : "Enabling resumes deliveries of new events. Send the ones missed meanwhile with Recover or Replay."}
        </p>
        <ActionForm
          action={`${base}/${v.endpoint.enabled ? "disable" : "enable"}`}
          csrf={v.csrf}
          label={v.endpoint.enabled ? "Disable" : "Enable again"}
          kind="secondary"
        />
      </Card>
      <Card id="rotate" title="Rotate the signing secret">
        <p>A new secret is made and shown once; the current one keeps signing as well for the overlap you choose.</p>
        <ActionForm action={`${base}/rotate`} csrf={v.csrf} label="Rotate secret" kind="secondary">
          <Field
            name="overlap_hours"
            label="Overlap (hours)"
            inputmode="numeric"
            pattern="[0-9]{1,3}"
            value={values.overlap_hours ?? String(v.defaultOverlapHours)}
            error={e.overlap_hours}
            hint="0 to 168; 0 stops the current secret now."
          />
        </ActionForm>
      </Card>
      <Card id="test" title="Send a test message">
        <p>
          Sends a <code>webhook.test</code> message (not an audit event); its attempts appear under Deliveries.
        </p>
        <ActionForm action={`${base}/test`} csrf={v.csrf} label="Send test" kind="secondary" />
      </Card>
      <Card id="recover" title="Recover">
        <p>Sends every message that failed since a time again, oldest first.</p>
        <ActionForm action={`${base}/recover`} csrf={v.csrf} label="Recover" kind="secondary">
          <label>
            Since
            <span class="hint">Times in {v.timeZone}.</span>
            <input
              type="datetime-local"
              name="since"
              id="since"
              required
              value={values.since}
              aria-invalid={e.since ? "true" : undefined}
              aria-describedby={e.since ? "since-error" : undefined}
            />
            <FieldError name="since" error={e.since} />
          </label>
        </ActionForm>
      </Card>
      <Card id="replay" title="Replay">
        <p>
          Sends the events of a seq range again (of the types this endpoint takes), each with its own webhook-id, from
          the archive when the recent index no longer holds them. At most 10,000 events at a time.
        </p>
        <ActionForm action={`${base}/replay`} csrf={v.csrf} label="Replay" kind="secondary">
          <Field
            name="from_seq"
            label="From seq"
            inputmode="numeric"
            pattern="[0-9]+"
            value={values.from_seq}
            error={e.from_seq}
          />
          <Field
            name="to_seq"
            label="To seq"
            inputmode="numeric"
            pattern="[0-9]+"
            value={values.to_seq}
            error={e.to_seq}
          />
        </ActionForm>
      </Card>
      <p>
        <a class="button secondary" href={`${base}/delete`}>
          Delete this endpoint…
        </a>
      </p>
    </>
  );
}

export function WebhookPage(p: { v: WebhookDetailView; notice?: PageNotice; form?: FormState }) {
  const { v } = p;
  const e = v.endpoint;
  return (
    <>
      <p>
        <a href="/webhooks">← All endpoints</a>
      </p>
      <h1>
        Endpoint <code class="url">{e.url}</code>
      </h1>
      {p.notice && <Notice kind={p.notice.kind}>{p.notice.text}</Notice>}
      {!e.enabled && (
        <Notice kind="warn">
          Deliveries have stopped: {reason(e.disabledReason)} (disabled {e.disabledSince}).
        </Notice>
      )}
      <Table headers={["Description", "Event types", "State", "Secret", "Last success", "Created"]}>
        <tr>
          <EndpointCells e={e} />
          <td class="nowrap">{e.created}</td>
        </tr>
      </Table>
      <h2 id="deliveries">Deliveries</h2>
      <p class="hint">Every attempt, newest first; times in {v.timeZone}. The receiver's answers are never stored.</p>
      <DeliveriesTable v={v} />
      {v.mayWrite && <Forms v={v} form={p.form ?? {}} />}
    </>
  );
}

export function DeleteWebhookPage(p: { csrf: string; endpoint: WebhookItem }) {
  const e = p.endpoint;
  return (
    <>
      <h1>Delete the endpoint {e.url}?</h1>
      <p>
        Nothing more is sent to it, and its delivery log and undelivered messages are deleted. Your audit trail keeps
        every event. This cannot be undone; to pause deliveries instead, disable it.
      </p>
      <form class="inline" method="post" action={`/webhooks/${e.id}/delete`}>
        <CsrfField token={p.csrf} />
        <button class="danger" type="submit">
          Delete the endpoint
        </button>
      </form>{" "}
      <a href={`/webhooks/${e.id}`}>Cancel</a>
    </>
  );
}

export function NoWebhookPage() {
  return (
    <>
      <h1>No such webhook endpoint</h1>
      <p>
        This organisation has no endpoint at this address. <a href="/webhooks">All endpoints</a>
      </p>
    </>
  );
}
