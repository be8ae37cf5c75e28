// The import as a Cloudflare Workflow (docs/cloud.md, "Imports"): durable steps with retries, off
// the request path. "import" reads, classifies and stores (run-import.ts; a retried step starts
// clean); "clean up" deletes the lines the import replaced and the stored file. If the import step
// fails for good, the import is marked failed, its lines are deleted, and its file too.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { failCloudImport, getCloudImport, tenantDb } from "../store/index.ts";
import { cleanUpImport, runImport, type ImportTarget, type RunOutcome } from "./run-import.ts";

const IMPORT_STEP = {
  retries: { limit: 2, delay: "10 seconds", backoff: "exponential" },
  timeout: "30 minutes",
} as const;
const CLEANUP_STEP = {
  retries: { limit: 5, delay: "30 seconds", backoff: "exponential" },
  timeout: "10 minutes",
} as const;

export class CloudImportWorkflow extends WorkflowEntrypoint<Env, ImportTarget> {
  override async run(event: WorkflowEvent<ImportTarget>, step: WorkflowStep): Promise<string> {
    const target: ImportTarget = { tenantId: event.payload.tenantId, importId: event.payload.importId };
    let outcome: RunOutcome;
    try {
      outcome = await step.do("import", IMPORT_STEP, () => runImport(this.env, target));
    } catch (thrown) {
      console.error("cloud import failed for good", target.importId, thrown instanceof Error ? thrown.name : "unknown");
      await step.do("record the failure", CLEANUP_STEP, async () => {
        const db = tenantDb(this.env.DB, target.tenantId);
        const row = await getCloudImport(db, target.importId);
        const error = JSON.stringify({
          code: "internal_error",
          message: "The import stopped on our side; nothing of it was kept. Try it again.",
          row: null,
          column: null,
        });
        await failCloudImport(db, target.importId, Date.now(), {
          rowsRead: row?.rows_read ?? 0,
          bytesRead: row?.bytes_read ?? 0,
          warnings: row?.warnings ?? "[]",
          warningCount: row?.warning_count ?? 0,
          error,
        });
        await cleanUpImport(this.env, target, [target.importId]);
      });
      return "failed";
    }
    const superseded = outcome.status === "done" ? outcome.superseded : [];
    await step.do("clean up", CLEANUP_STEP, () => cleanUpImport(this.env, target, superseded));
    return outcome.status;
  }
}
