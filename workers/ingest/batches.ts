// Queue batches are handled per tenant: a message that is not what the queue carries is logged
// by id and acked (it can never succeed); each tenant's messages are written together and acked
// together. When that write fails, they are written one by one, so that one message that cannot
// be written (a poison message) is the only one retried with backoff, and dead-lettered after
// max_retries, while the tenant's others are stored and acked.

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
      continue;
    } catch (error) {
      console.error(`${label} queue: write failed, one by one`, error instanceof Error ? error.message : "unknown");
    }
    if (group.items.length === 1) {
      for (const m of group.messages) retry(m);
      continue;
    }
    for (const [i, item] of group.items.entries()) {
      const message = group.messages[i];
      if (!message) continue;
      try {
        await write(env, tenantId, [item]);
        message.ack();
      } catch (error) {
        const name = error instanceof Error ? error.name : "unknown";
        console.error(`${label} queue: message not written, retrying`, message.id, message.attempts, name);
        retry(message);
      }
    }
  }
}

function retry(message: Message): void {
  message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
}
