// The import as a Cloudflare Workflow (docs/cloud.md, "Imports"): durable steps with retries, off
// the request path. A connector import first copies its period's files from S3 ("fetch", sync.ts);
// "open" lists the stored files; each "part N" reads, classifies and stores for about ten seconds
// and returns where it stopped (run-import.ts), so a retried or replayed step goes on from the
// last part that ended, not from the file's start; "finish" makes the periods count the import;
// "clean up" deletes the lines the import replaced and the stored files. If a step fails for
// good, the import is marked failed, its lines and files are deleted, and a connector period is
// forgotten so that the next run tries it again.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import {
  beginImport,
  cleanUpImport,
  failImport,
  finishImport,
  importPart,
  OpenReadings,
  type FetchPlan,
  type ImportParams,
  type ImportTarget,
  type PartOutcome,
  type RunOutcome,
} from "./run-import.ts";
import { fetchExportFiles, forgetExportPeriod } from "./sync.ts";

const FETCH_STEP = {
  retries: { limit: 3, delay: "30 seconds", backoff: "exponential" },
  timeout: "30 minutes",
} as const;
const IMPORT_STEP = {
  retries: { limit: 2, delay: "10 seconds", backoff: "exponential" },
  timeout: "30 minutes",
} as const;
const CLEANUP_STEP = {
  retries: { limit: 5, delay: "30 seconds", backoff: "exponential" },
  timeout: "10 minutes",
} as const;

export class CloudImportWorkflow extends WorkflowEntrypoint<Env, ImportParams> {
  /** The file the last part stopped in, kept open for the next part while this instance lives. */
  readonly #readings = new OpenReadings();

  override async run(event: WorkflowEvent<ImportParams>, step: WorkflowStep): Promise<string> {
    const target: ImportTarget = { tenantId: event.payload.tenantId, importId: event.payload.importId };
    const plan = event.payload.fetch;
    let outcome: RunOutcome;
    try {
      if (plan) {
        const refused = await step.do("fetch from S3", FETCH_STEP, () => fetchExportFiles(this.env, target, plan));
        if (refused !== null) return await this.#failed(step, target, plan, "aws_refused", refused);
      }
      let part: PartOutcome = await step.do("open", IMPORT_STEP, () => beginImport(this.env, target));
      while (part.status === "reading") {
        const checkpoint = part.checkpoint;
        part = await step.do(`part ${checkpoint.part}`, IMPORT_STEP, () =>
          importPart(this.env, target, checkpoint, this.#readings),
        );
      }
      this.#readings.clear();
      const read = part;
      outcome =
        read.status === "read"
          ? await step.do("finish", IMPORT_STEP, () => finishImport(this.env, target, read.checkpoint))
          : { status: read.status === "failed" ? "failed" : "skipped" };
    } catch (thrown) {
      this.#readings.clear();
      console.error("cloud import failed for good", target.importId, thrown instanceof Error ? thrown.name : "unknown");
      const message = "The import stopped on our side; nothing of it was kept. Try it again.";
      return this.#failed(step, target, plan, "internal_error", message);
    }
    const superseded = outcome.status === "done" ? outcome.superseded : [];
    await step.do("clean up", CLEANUP_STEP, async () => {
      if (outcome.status === "failed" && plan) await forgetExportPeriod(this.env, target);
      await cleanUpImport(this.env, target, superseded);
    });
    return outcome.status;
  }

  async #failed(step: WorkflowStep, target: ImportTarget, plan: FetchPlan | undefined, code: string, message: string) {
    await step.do("record the failure", CLEANUP_STEP, async () => {
      await failImport(this.env, target, code, message);
      if (plan) await forgetExportPeriod(this.env, target);
      await cleanUpImport(this.env, target, [target.importId]);
    });
    return "failed";
  }
}
