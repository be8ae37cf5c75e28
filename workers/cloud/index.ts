// The cloud-bill intake's front door (docs/cloud.md): AWS CUR 2.0, legacy CUR and FOCUS bills
// read, classified and stored per tenant.
export type { BillFormat, BillLine, BillSchema, Category, ChargeType, Classification, TokenType } from "./line.ts";
export { CATEGORIES, CHARGE_TYPES, TOKEN_TYPES } from "./line.ts";
export { CloudImportWorkflow } from "./workflow.ts";
export {
  completeUpload,
  createMultipartImport,
  createUploadImport,
  declaredLength,
  getImport,
  listImports,
  MAX_UPLOAD_BYTES,
  uploadPart,
  type CloudCaller,
  type CloudImportView,
} from "./imports.ts";
export { cloudSpend } from "./spend.ts";
export { runCloudJobs, purgeCloudBills } from "./upkeep.ts";
export {
  connectionState,
  connectionTemplate,
  deleteConnection,
  getConnection,
  saveConnection,
  testConnectionNow,
  TEMPLATE_HEADERS,
  type ConnectionView,
} from "./connector.ts";
export { syncConnection } from "./sync.ts";
