// The cloud page's import history (web/pages/cloud.tsx): one table row per import with its
// status, format, billing months, a progress bar (bytes read of the file's size), warnings (an
// expandable list) and error, rows read and stored. A queued or running import's row polls its
// own route with htmx every 2 s and is swapped whole; a finished one has no trigger, so it stops.
import { Table } from "./table.tsx";

export type ImportItem = {
  id: string;
  status: "queued" | "running" | "done" | "failed";
  fileName: string;
  kind: string;
  created: string;
  periods: string;
  rowsRead: string;
  rowsStored: string;
  bytesRead: number;
  bytesTotal: number;
  percent: string;
  awaitingParts: boolean;
  warningCount: number;
  warnings: { row: string; column: string; message: string }[];
  error: string | null;
};

const STATUS_BADGE = { queued: "warn", running: "warn", done: "ok", failed: "danger" } as const;

/** One import: its row polls itself every 2 s while it is queued or running; `polled`, the row
 * answered to that polling, says where the finished import's figures are. */
export function ImportRow({ item, polled }: { item: ImportItem; polled?: boolean }) {
  const live = item.status === "queued" || item.status === "running";
  return (
    <tr
      id={`import-${item.id}`}
      hx-get={live ? `/cloud/imports/${item.id}` : undefined}
      hx-trigger={live ? "every 2s" : undefined}
      hx-swap={live ? "outerHTML" : undefined}
    >
      <th scope="row">
        <a href={`/cloud/imports/${item.id}`}>{item.fileName}</a>
        <span class="hint"> {item.created}</span>
      </th>
      <td>
        <span class={`badge ${STATUS_BADGE[item.status]}`}>{item.status}</span>
        {item.awaitingParts && <span class="hint"> waiting for its parts</span>}
        {item.status === "done" && polled === true && (
          <span class="hint">
            {" "}
            <a href="/cloud">reload</a> for its figures
          </span>
        )}
      </td>
      <td>{item.kind}</td>
      <td>{item.periods}</td>
      <td>
        <progress
          max={String(Math.max(item.bytesTotal, 1))}
          value={String(item.bytesRead)}
          aria-label={`${item.fileName}: ${item.percent} read`}
        />{" "}
        <span class="hint">{item.percent}</span>
      </td>
      <td>
        {item.warningCount === 0 ? (
          "none"
        ) : (
          <details>
            <summary>{`${item.warningCount} warning${item.warningCount === 1 ? "" : "s"}`}</summary>
            <ul>
              {item.warnings.map((w) => (
                <li>
                  row {w.row}, column {w.column}: {w.message}
                </li>
              ))}
              {item.warnings.length < item.warningCount && <li>{`the first ${item.warnings.length} are kept`}</li>}
            </ul>
          </details>
        )}
        {item.error && <p class="field-error">{item.error}</p>}
      </td>
      <td class="num">{item.rowsRead}</td>
      <td class="num">{item.rowsStored}</td>
    </tr>
  );
}

export function ImportsTable({ imports, caption }: { imports: ImportItem[]; caption: string }) {
  return (
    <Table
      caption={caption}
      headers={["File", "Status", "Format", "Billing periods", "Progress", "Warnings and errors"]}
      numeric={["Rows read", "Rows stored"]}
    >
      {imports.map((item) => (
        <ImportRow item={item} />
      ))}
    </Table>
  );
}
