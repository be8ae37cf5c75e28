// Webhook streaming of the audit trail (Standard Webhooks): endpoints per organisation and their
// operations (endpoints.ts, for the API and the dashboard), the fan-out the audit consumer calls
// (fan-out.ts) and the delivery queue's consumer (deliver.ts). docs/webhooks.md is the contract.
export { consumeWebhooks } from "./deliver.ts";
export {
  createWebhook,
  DEFAULT_OVERLAP_HOURS,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  recoverWebhook,
  replayWebhook,
  rotateWebhookSecret,
  sendTestMessage,
  updateWebhook,
  type WebhookCaller,
  type WebhookView,
} from "./endpoints.ts";
export { fanOut } from "./fan-out.ts";
export { HIGH_VOLUME_TYPES } from "./messages.ts";
