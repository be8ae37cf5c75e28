// Queue batches are handled per tenant: a message that is not what the queue carries is logged
// by id and acked (it can never succeed); each tenant's messages are written together and acked
// together, or retried together with backoff when the write fails.

export type TenantWriter<T> = (env: Env, tenantId: string, items: T[]) => Promise<void>;

export async function perTenant<T extends { tenantId: string }>(
  batch: MessageBatch,
  env: Env,
  label: string,
  accepts: (body: unknown) => body is T,
  write: TenantWriter<T>,
): Promise<void> {
  const byTenant = new Map<string, { items: T[]; messages: Message[] }>();
  for (const message of batch.messages) {
    if (!accepts(message.body)) {
      console.error(`${label} queue: dropped a message of the wrong shape`, message.id);
      message.ack();
      continue;
    }
    const group = byTenant.get(message.body.tenantId) ?? { items: [], messages: [] };
    group.items.push(message.body);
    group.messages.push(message);
    byTenant.set(message.body.tenantId, group);
  }
  for (const [tenantId, group] of byTenant) {
    try {
      await write(env, tenantId, group.items);
      for (const m of group.messages) m.ack();
    } catch (error) {
      console.error(`${label} queue: write failed, retrying`, error instanceof Error ? error.message : "unknown");
      for (const m of group.messages) m.retry({ delaySeconds: Math.min(60, 2 ** m.attempts) });
    }
  }
}
