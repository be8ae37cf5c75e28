// The queue consumers' front door: usage events become D1 rows and hourly/daily rollups, audit
// events become the D1 audit index. workers/index.ts dispatches each queue's batches here.
export { consumeAudit } from "./audit-consumer.ts";
export { consumeUsage } from "./usage-consumer.ts";
