// The role table's entries for workers/dashboard/routes/webhooks.tsx (see test/auth/role-table.ts).
// Reading needs `read`; every change (and the delete confirmation) needs `config:write`.
import { env } from "cloudflare:workers";
import { createWebhook, updateWebhook } from "../../workers/webhooks/index.ts";
import type { Person } from "../auth/orgs.ts";
import type { ProbeContext, RoleArea } from "../auth/role-table.ts";

type Row = { description: string; disabled_at: number | null; secret_hint: string } | null;

function endpointRow(tenantId: string, id: string): Promise<Row> {
  return env.DB.prepare(
    "SELECT description, disabled_at, secret_hint FROM webhook_endpoints WHERE tenant_id = ? AND id = ?",
  )
    .bind(tenantId, id)
    .first();
}

/** The probes run one after another and an organisation keeps at most 20 endpoints: each
 * probe starts from none. */
async function noEndpoints(tenantId: string): Promise<void> {
  await env.DB.prepare("DELETE FROM webhook_endpoints WHERE tenant_id = ?").bind(tenantId).run();
}

/** An endpoint the owner made (through the same operation the page uses), taking `types`. */
async function ownersEndpoint(ctx: ProbeContext, types: string[] = ["org.closed"]): Promise<string> {
  await noEndpoints(ctx.org.tenantId);
  const made = await createWebhook(
    { env, tenantId: ctx.org.tenantId, actor: { kind: "user", id: ctx.org.owner.userId } },
    { url: `${env.WEBHOOK_RECEIVER_URL}/hooks/${ctx.unique("probe")}`, event_types: types },
  );
  if ("code" in made) throw new Error(`owner's endpoint: ${made.message}`);
  return made.endpoint.id;
}

/** Opens the endpoint's page (for its CSRF token), then posts one of its forms. */
async function postOn(who: Person, id: string, action: string, fields: Record<string, string> = {}) {
  await who.b.get(`/webhooks/${id}`);
  return who.b.post(`/webhooks/${id}/${action}`, fields);
}

export const webhooksArea: RoleArea = {
  routes: {
    "GET /webhooks": "read",
    "POST /webhooks": "config:write",
    "GET /webhooks/:id": "read",
    "POST /webhooks/:id/edit": "config:write",
    "POST /webhooks/:id/enable": "config:write",
    "POST /webhooks/:id/disable": "config:write",
    "POST /webhooks/:id/rotate": "config:write",
    "POST /webhooks/:id/test": "config:write",
    "POST /webhooks/:id/recover": "config:write",
    "POST /webhooks/:id/replay": "config:write",
    "GET /webhooks/:id/delete": "config:write",
    "POST /webhooks/:id/delete": "config:write",
  },
  probes: (ctx) => {
    const tenantId = () => ctx.org.tenantId;
    return {
      "GET /webhooks": {
        allowedStatus: 200,
        async run(who) {
          const page = await who.b.get("/webhooks");
          return { page, happened: page.html.includes("<h1>Webhooks</h1>") };
        },
      },
      "POST /webhooks": {
        allowedStatus: 200,
        async run(who) {
          const description = ctx.unique("made ");
          await noEndpoints(tenantId());
          await who.b.get("/webhooks");
          const page = await who.b.post("/webhooks", {
            url: `${env.WEBHOOK_RECEIVER_URL}/hooks/${ctx.unique("made")}`,
            description,
            event_types: "org.closed",
          });
          const row = await env.DB.prepare("SELECT id FROM webhook_endpoints WHERE tenant_id = ? AND description = ?")
            .bind(tenantId(), description)
            .first();
          return { page, happened: row !== null };
        },
      },
      "GET /webhooks/:id": {
        allowedStatus: 200,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const page = await who.b.get(`/webhooks/${id}`);
          return { page, happened: page.html.includes(`/hooks/probe`) };
        },
      },
      "POST /webhooks/:id/edit": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const description = ctx.unique("edited ");
          const url = `${env.WEBHOOK_RECEIVER_URL}/hooks/${ctx.unique("edited")}`;
          const page = await postOn(who, id, "edit", { url, description, event_types: "org.closed" });
          return { page, happened: (await endpointRow(tenantId(), id))?.description === description };
        },
      },
      "POST /webhooks/:id/enable": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const owner = { env, tenantId: tenantId(), actor: { kind: "user", id: ctx.org.owner.userId } } as const;
          await updateWebhook(owner, id, { enabled: false });
          const page = await postOn(who, id, "enable");
          return { page, happened: (await endpointRow(tenantId(), id))?.disabled_at === null };
        },
      },
      "POST /webhooks/:id/disable": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const page = await postOn(who, id, "disable");
          return { page, happened: (await endpointRow(tenantId(), id))?.disabled_at !== null };
        },
      },
      "POST /webhooks/:id/rotate": {
        allowedStatus: 200,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const before = (await endpointRow(tenantId(), id))?.secret_hint;
          const page = await postOn(who, id, "rotate", { overlap_hours: "24" });
          return { page, happened: (await endpointRow(tenantId(), id))?.secret_hint !== before };
        },
      },
      "POST /webhooks/:id/test": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const page = await postOn(who, id, "test");
          const sent = await env.DB.prepare(
            "SELECT COUNT(*) AS n FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ? AND type = 'webhook.test'",
          )
            .bind(tenantId(), id)
            .first<{ n: number }>();
          return { page, happened: (sent?.n ?? 0) === 1 };
        },
      },
      "POST /webhooks/:id/recover": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          // One message whose attempts all failed, for recover to send again.
          await env.DB.prepare(
            `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
             VALUES (?, ?, ?, 1, 'org.closed', '{}', 'failed', 8, ?)`,
          )
            .bind(tenantId(), `msg_${id}_1`, id, Date.now())
            .run();
          const page = await postOn(who, id, "recover", { since: "2020-01-01T00:00" });
          const row = await env.DB.prepare("SELECT status FROM webhook_messages WHERE tenant_id = ? AND id = ?")
            .bind(tenantId(), `msg_${id}_1`)
            .first<{ status: string }>();
          return { page, happened: row?.status !== "failed" };
        },
      },
      "POST /webhooks/:id/replay": {
        allowedStatus: 303,
        async run(who) {
          // The endpoint takes webhook.created: its own creation event is the one replayed.
          const id = await ownersEndpoint(ctx, ["webhook.created"]);
          // Once its fan-out has made the message, that message is deleted: only the replay can
          // make it again.
          const until = Date.now() + 10_000;
          let seq: number | null = null;
          while (seq === null && Date.now() < until) {
            const row = await env.DB.prepare(
              "SELECT seq FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ? AND type = 'webhook.created'",
            )
              .bind(tenantId(), id)
              .first<{ seq: number }>();
            seq = row?.seq ?? null;
            if (seq === null) await new Promise((r) => setTimeout(r, 50));
          }
          await env.DB.prepare("DELETE FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ?")
            .bind(tenantId(), id)
            .run();
          const page = await postOn(who, id, "replay", { from_seq: String(seq), to_seq: String(seq) });
          const made = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_messages WHERE tenant_id = ? AND id = ?")
            .bind(tenantId(), `msg_${id}_${seq}`)
            .first<{ n: number }>();
          return { page, happened: (made?.n ?? 0) === 1 };
        },
      },
      "GET /webhooks/:id/delete": {
        allowedStatus: 200,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const page = await who.b.get(`/webhooks/${id}/delete`);
          return { page, happened: page.html.includes("Delete the endpoint") };
        },
      },
      "POST /webhooks/:id/delete": {
        allowedStatus: 303,
        async run(who) {
          const id = await ownersEndpoint(ctx);
          const page = await postOn(who, id, "delete");
          return { page, happened: (await endpointRow(tenantId(), id)) === null };
        },
      },
    };
  },
};
