// Queue batches are handled per tenant: a message that is not what the queue carries is logged
// by id and acked (it can never succeed); each tenant's messages are written together (in chunks
// of WRITE_CHUNK items) and acked together. When that write fails, they are written message by
// message, so that one message that cannot be written (a poison message) is the only one retried
// with backoff, and dead-lettered after max_retries, while the tenant's others are stored and
// acked. A message may carry several items (the ledger packs audit events): when such a message
// fails, its items are written one by one and one that still fails is sent back to the queue
// alone (`requeue`), so that one bad item never holds up the ones packed with it.

export type TenantWriter<T> = (env: Env, tenantId: string, items: T[]) => Promise<void>;

/** Items written in one call at most (a packed batch can carry thousands). */
const WRITE_CHUNK = 500;

type Carried<T> = { message: Message; items: T[] };

/** Writes the messages' items in chunks of about WRITE_CHUNK, cut between messages (a usage pack
 * is stored whole only when all its events are written together) unless one message alone is
 * larger. */
async function writeAll<T>(write: TenantWriter<T>, env: Env, tenantId: string, messages: T[][]): Promise<void> {
  let chunk: T[] = [];
  for (const items of messages) {
    if (chunk.length > 0 && chunk.length + items.length > WRITE_CHUNK) {
      await write(env, tenantId, chunk);
      chunk = [];
    }
    for (let i = 0; i < items.length; i += WRITE_CHUNK) {
      const part = items.slice(i, i + WRITE_CHUNK);
      if (part.length === WRITE_CHUNK) await write(env, tenantId, part);
      else chunk.push(...part);
    }
  }
  if (chunk.length > 0) await write(env, tenantId, chunk);
}

export async function perTenant<T extends { tenantId: string }>(
  batch: MessageBatch,
  env: Env,
  label: string,
  itemsOf: (body: unknown) => T[] | null,
  write: TenantWriter<T>,
  requeue?: (env: Env, item: T) => Promise<void>,
): Promise<void> {
  const byTenant = new Map<string, Carried<T>[]>();
  for (const message of batch.messages) {
    const items = itemsOf(message.body);
    const tenantId = items?.[0]?.tenantId;
    if (!items || tenantId === undefined || items.some((item) => item.tenantId !== tenantId)) {
      console.error(`${label} queue: dropped a message of the wrong shape`, message.id);
      message.ack();
      continue;
    }
    const group = byTenant.get(tenantId) ?? [];
    group.push({ message, items });
    byTenant.set(tenantId, group);
  }
  for (const [tenantId, group] of byTenant) {
    try {
      await writeAll(
        write,
        env,
        tenantId,
        group.map((m) => m.items),
      );
      for (const m of group) m.message.ack();
      continue;
    } catch (error) {
      console.error(`${label} queue: write failed, one by one`, error instanceof Error ? error.message : "unknown");
    }
    const only = group.length === 1 ? group[0] : undefined;
    if (only && only.items.length === 1) {
      retry(only.message);
      continue;
    }
    for (const carried of group) await writeOne(carried, { env, tenantId, label, write, requeue });
  }
}

/** One message of a group that failed: written alone; a pack that fails is split (see the top). */
async function writeOne<T>(
  { message, items }: Carried<T>,
  to: {
    env: Env;
    tenantId: string;
    label: string;
    write: TenantWriter<T>;
    requeue: ((env: Env, item: T) => Promise<void>) | undefined;
  },
): Promise<void> {
  try {
    await writeAll(to.write, to.env, to.tenantId, [items]);
    message.ack();
    return;
  } catch (error) {
    const name = error instanceof Error ? error.name : "unknown";
    console.error(`${to.label} queue: message not written`, message.id, message.attempts, name);
  }
  if (items.length === 1 || !to.requeue) {
    retry(message);
    return;
  }
  let kept = true;
  for (const item of items) {
    try {
      await to.write(to.env, to.tenantId, [item]);
    } catch {
      try {
        await to.requeue(to.env, item);
        console.error(`${to.label} queue: an item of a packed message sent back alone`, message.id);
      } catch {
        kept = false;
      }
    }
  }
  if (kept) message.ack();
  else retry(message);
}

function retry(message: Message): void {
  message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
}
