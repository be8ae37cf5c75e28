// What the cloud tests share: waiting for an import to end, through the API as a client would.
import type { CloudImportView } from "../../workers/cloud/index.ts";
import type { Tenant } from "../helpers.ts";

/** The import once it is done or failed (polled through GET /api/v1/cloud/imports/{id}). */
export async function importFinished(t: Tenant, id: string, timeoutMs = 20_000): Promise<CloudImportView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = (await (await t.api(`/cloud/imports/${id}`)).json()) as CloudImportView;
    if (view.status === "done" || view.status === "failed") return view;
    if (Date.now() > deadline) throw new Error(`import ${id} still ${view.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
