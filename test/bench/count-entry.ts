// The Worker's entry for the platform-cost point (cost.ts), bundled only by the bench: Outlay
// exactly as deployed, its bindings wrapped so that every billable operation is counted where
// it happens — Worker invocations, Durable Object requests and alarms, queue messages (in 64 KB
// units, written, read and deleted), D1 statements with D1's own `rows_written` / `rows_read` /
// `size_after`, the SQLite rows the Durable Objects write (the cursor's own `rowsWritten`), and
// R2 operations. `GET /__bench/counts` answers the totals since the isolate started. Never part
// of a deployment: wrangler.toml's `main` is workers/index.ts; cost.ts swaps it in a temp copy.
import outlay, {
  AuditArchiver as OutlayArchiver,
  CloudImportWorkflow,
  TenantLedger as OutlayLedger,
} from "../../workers/index.ts";

export { CloudImportWorkflow };

type QueueCount = { messages: number; writeOps: number; readOps: number; deleteOps: number; retried: number };

export type Counts = {
  workerRequests: number;
  queueInvocations: number;
  doRequests: Record<string, number>;
  doAlarms: number;
  doSqlRowsWritten: number;
  doSqlRowsRead: number;
  doSqlBytes: Record<string, number>;
  queues: Record<string, QueueCount>;
  d1: { statements: number; rowsWritten: number; rowsRead: number; sizeAfter: number };
  r2: { classA: number; classB: number };
  /** Rows written by statement (its SQL's start, whitespace folded): where the rows go. */
  rowsBySql: { d1: Record<string, number>; doSql: Record<string, number> };
};

const counts: Counts = {
  workerRequests: 0,
  queueInvocations: 0,
  doRequests: {},
  doAlarms: 0,
  doSqlRowsWritten: 0,
  doSqlRowsRead: 0,
  doSqlBytes: {},
  queues: {},
  d1: { statements: 0, rowsWritten: 0, rowsRead: 0, sizeAfter: 0 },
  r2: { classA: 0, classB: 0 },
  rowsBySql: { d1: {}, doSql: {} },
};

/** A statement's name in rowsBySql: its first 90 characters, whitespace folded. */
function sqlName(query: string): string {
  return query.replace(/\s+/g, " ").trim().slice(0, 90);
}

function noteRows(table: Record<string, number>, query: string, rows: number): void {
  if (rows > 0) table[sqlName(query)] = (table[sqlName(query)] ?? 0) + rows;
}

const OP_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** Queue operations one message is billed as: one per started 64 KB of its body. */
function opsOf(body: unknown): number {
  const bytes = encoder.encode(JSON.stringify(body) ?? "").byteLength;
  return Math.max(1, Math.ceil(bytes / OP_BYTES));
}

function queueCount(name: string): QueueCount {
  let found = counts.queues[name];
  if (!found) {
    found = { messages: 0, writeOps: 0, readOps: 0, deleteOps: 0, retried: 0 };
    counts.queues[name] = found;
  }
  return found;
}

/** Methods read from a native object, called on it (not on the proxy). */
function bound(target: object, property: string | symbol): unknown {
  const value: unknown = Reflect.get(target, property, target);
  return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

function noteD1(query: string, meta: D1Meta | undefined): void {
  counts.d1.statements += 1;
  if (!meta) return;
  noteRows(counts.rowsBySql.d1, query, meta.rows_written ?? 0);
  counts.d1.rowsWritten += meta.rows_written ?? 0;
  counts.d1.rowsRead += meta.rows_read ?? 0;
  if (typeof meta.size_after === "number") counts.d1.sizeAfter = meta.size_after;
}

const inner = new WeakMap<object, { statement: D1PreparedStatement; query: string }>();

function countedStatement(statement: D1PreparedStatement, query: string): D1PreparedStatement {
  const wrapper = {
    bind: (...values: unknown[]) => countedStatement(statement.bind(...values), query),
    run: async () => {
      const result = await statement.run();
      noteD1(query, result.meta);
      return result;
    },
    all: async () => {
      const result = await statement.all();
      noteD1(query, result.meta);
      return result;
    },
    // first() answers no meta: read the rows with all() and give the first, as first() would.
    first: async (column?: string) => {
      const result = await statement.all();
      noteD1(query, result.meta);
      const row = result.results[0];
      if (row === undefined) return null;
      return column === undefined ? row : (row[column] ?? null);
    },
    raw: () => {
      throw new Error("count-entry: raw() is not counted; add it");
    },
  } as unknown as D1PreparedStatement;
  inner.set(wrapper, { statement, query });
  return wrapper;
}

function countedD1(db: D1Database): D1Database {
  return {
    prepare: (query: string) => countedStatement(db.prepare(query), query),
    batch: async (statements: D1PreparedStatement[]) => {
      const known = statements.map((s) => inner.get(s));
      const results = await db.batch(statements.map((s, i) => known[i]?.statement ?? s));
      for (const [i, result] of results.entries()) noteD1(known[i]?.query ?? "(not counted)", result.meta);
      return results;
    },
    exec: (query: string) => db.exec(query),
    dump: () => db.dump(),
    withSession: () => {
      throw new Error("count-entry: withSession() is not counted; add it");
    },
  } as unknown as D1Database;
}

function countedQueue(queue: Queue, name: string): Queue {
  const count = queueCount(name);
  return {
    send: async (body: unknown, options?: QueueSendOptions) => {
      count.messages += 1;
      count.writeOps += opsOf(body);
      return queue.send(body, options);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages];
      for (const m of list) {
        count.messages += 1;
        count.writeOps += opsOf(m.body);
      }
      return queue.sendBatch(list, options);
    },
  } as unknown as Queue;
}

function countedStub(stub: DurableObjectStub, className: string): DurableObjectStub {
  return new Proxy(stub, {
    get(target, property) {
      // An RPC stub's methods are stubs too: called with Reflect.apply, never read for `bind`.
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string" || property === "then") return value;
      return (...args: unknown[]) => {
        counts.doRequests[className] = (counts.doRequests[className] ?? 0) + 1;
        return Reflect.apply(value, target, args);
      };
    },
  });
}

function countedNamespace(namespace: DurableObjectNamespace, className: string): DurableObjectNamespace {
  return new Proxy(namespace, {
    get(target, property) {
      const value = bound(target, property);
      if (property !== "get" && property !== "getByName") return value;
      return (...args: unknown[]) => countedStub((value as (...a: unknown[]) => DurableObjectStub)(...args), className);
    },
  });
}

const CLASS_A = new Set(["put", "list", "createMultipartUpload", "resumeMultipartUpload"]);
const CLASS_B = new Set(["get", "head"]);

function countedBucket(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      const value = bound(target, property);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) => {
        if (CLASS_A.has(property)) counts.r2.classA += 1;
        else if (CLASS_B.has(property)) counts.r2.classB += 1;
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}

const wrapped = new WeakMap<Env, Env>();

function countedEnv(env: Env): Env {
  const found = wrapped.get(env);
  if (found) return found;
  const counted: Env = {
    ...env,
    DB: countedD1(env.DB),
    TENANT_LEDGER: countedNamespace(env.TENANT_LEDGER, "TenantLedger") as Env["TENANT_LEDGER"],
    AUDIT_ARCHIVER: countedNamespace(env.AUDIT_ARCHIVER, "AuditArchiver") as Env["AUDIT_ARCHIVER"],
    USAGE_QUEUE: countedQueue(env.USAGE_QUEUE, "outlay-usage"),
    AUDIT_QUEUE: countedQueue(env.AUDIT_QUEUE, "outlay-audit"),
    WEBHOOK_QUEUE: countedQueue(env.WEBHOOK_QUEUE, "outlay-webhooks"),
    AUDIT_ARCHIVE: countedBucket(env.AUDIT_ARCHIVE),
  };
  wrapped.set(env, counted);
  return counted;
}

/**
 * Counts the object's SQLite rows: writes run to the end inside exec(), so the cursor's
 * rowsWritten is final when exec() returns; reads are counted as far as exec() went. The state
 * must stay the runtime's own object (the base class checks it), so its SqlStorage gets an own
 * `exec` that calls the original.
 */
function countSql(ctx: DurableObjectState, className: string): void {
  const sql = ctx.storage.sql;
  const exec = sql.exec.bind(sql);
  Object.defineProperty(sql, "exec", {
    value: (query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...bindings);
      noteRows(counts.rowsBySql.doSql, query, cursor.rowsWritten);
      counts.doSqlRowsWritten += cursor.rowsWritten;
      counts.doSqlRowsRead += cursor.rowsRead;
      if (cursor.rowsWritten > 0) counts.doSqlBytes[className] = sql.databaseSize;
      return cursor;
    },
  });
}

export class TenantLedger extends OutlayLedger {
  constructor(ctx: DurableObjectState, env: Env) {
    countSql(ctx, "TenantLedger");
    super(ctx, countedEnv(env));
  }

  override async alarm(): Promise<void> {
    counts.doAlarms += 1;
    await super.alarm();
  }
}

export class AuditArchiver extends OutlayArchiver {
  constructor(ctx: DurableObjectState, env: Env) {
    countSql(ctx, "AuditArchiver");
    super(ctx, countedEnv(env));
  }

  override async alarm(): Promise<void> {
    counts.doAlarms += 1;
    await super.alarm();
  }
}

/** The batch as delivered, and what to count once the consumer is done with it: each message
 * read, and deleted unless it was retried (a retried message is read again later). */
function countedBatch(batch: MessageBatch): { counted: MessageBatch; settle: (failed: boolean) => void } {
  const count = queueCount(batch.queue.replace(/-dlq$/, ""));
  const retried = new Set<Message>();
  const messages = batch.messages.map(
    (message) =>
      new Proxy(message, {
        get(target, property) {
          if (property !== "retry") return bound(target, property);
          return (options?: QueueRetryOptions) => {
            retried.add(target);
            target.retry(options);
          };
        },
      }),
  );
  let all = false;
  const counted = new Proxy(batch, {
    get(target, property) {
      if (property === "messages") return messages;
      if (property !== "retryAll") return bound(target, property);
      return (options?: QueueRetryOptions) => {
        all = true;
        target.retryAll(options);
      };
    },
  });
  const settle = (failed: boolean): void => {
    for (const message of batch.messages) {
      const ops = opsOf(message.body);
      count.readOps += ops;
      if (failed || all || retried.has(message)) count.retried += 1;
      else count.deleteOps += ops;
    }
  };
  return { counted, settle };
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__bench/counts") return Response.json(counts);
    counts.workerRequests += 1;
    return outlay.fetch(request, countedEnv(env), ctx);
  },
  async queue(batch, env) {
    counts.queueInvocations += 1;
    const { counted, settle } = countedBatch(batch);
    try {
      await outlay.queue(counted, countedEnv(env));
      settle(false);
    } catch (error) {
      settle(true);
      throw error;
    }
  },
  async scheduled(controller, env) {
    await outlay.scheduled(controller, countedEnv(env));
  },
} satisfies ExportedHandler<Env>;
