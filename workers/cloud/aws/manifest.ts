// Finding the bill in the customer's bucket, per billing period, with a fingerprint that changes
// whenever AWS rewrites the period, so a daily run imports only new or changed periods.
//
// CUR 2.0 (AWS Data Exports, "Understanding export delivery" and "Data Exports manifest file
// reference" in the Data Exports user guide; README.md cites them):
//   <prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json
//   <prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/[<executionId>/]<export>-00001.csv.gz
//   manifest JSON: executionId, exportArn, columns, dataFiles (full s3:// URIs), …
// Legacy CUR ("Cost and Usage Reports" user guide, report delivery):
//   <prefix>/<report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json
//   manifest JSON: assemblyId, reportKeys (keys without s3://), billingPeriod {start, end}, …
import { type S3, type S3Result, getText, listAll } from "./s3.ts";

export type ExportKind = "cur2" | "cur_legacy";

/** Where one period's manifest is, known from its key alone. */
export type ManifestLocation = {
  kind: ExportKind;
  exportName: string;
  /** "YYYY-MM" */
  billingPeriod: string;
  manifestKey: string;
};

export type DataFile = { key: string; size: number | null };

export type ExportPeriod = ManifestLocation & {
  manifestEtag: string;
  /** CUR 2.0 `executionId`, legacy `assemblyId`; null when the manifest has none */
  executionId: string | null;
  /** changes whenever AWS rewrites the period (a new execution or a rewritten manifest) */
  fingerprint: string;
  dataFiles: DataFile[];
  /** false when a file the manifest names is not (yet) in the bucket: try again tomorrow */
  complete: boolean;
};

export type Skipped = { key: string; reason: string };

export type Discovery = { periods: ExportPeriod[]; skipped: Skipped[] };

const CUR2_MANIFEST = /^BILLING_PERIOD=(\d{4}-\d{2})\/(.+)-Manifest\.json$/;
const LEGACY_RANGE = /^(\d{4})(\d{2})01-\d{8}\/$/;

/** "cur/exports/" for "cur/exports", "/cur/exports/" or "cur/exports/"; "" for the bucket's root. */
export function folderOf(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function lastSegment(folder: string): string {
  return folder.replace(/\/$/, "").split("/").pop() ?? "";
}

/**
 * Every period manifest under `prefix`: the prefix may hold several exports (the export's
 * parent, as AWS asks for it) or be one export's own folder. Listing only, nothing read.
 */
export async function findManifests(s3: S3, prefix: string): Promise<S3Result<ManifestLocation[]>> {
  const root = folderOf(prefix);
  const top = await listAll(s3, { prefix: root, delimiter: "/" }, 10_000);
  if (!top.ok) return top;
  const folders = top.value.commonPrefixes;
  // The prefix is itself an export's folder when it holds metadata/ (or dated report folders).
  const candidates = folders.some((f) => f === `${root}metadata/` || LEGACY_RANGE.test(f.slice(root.length)))
    ? [root, ...folders]
    : folders;
  const found: ManifestLocation[] = [];
  for (const folder of candidates) {
    const name = lastSegment(folder);
    if (name === "") continue;
    const inside = folder === root ? top : await listAll(s3, { prefix: folder, delimiter: "/" }, 10_000);
    if (!inside.ok) return inside;
    if (inside.value.commonPrefixes.includes(`${folder}metadata/`)) {
      const metadata = await listAll(s3, { prefix: `${folder}metadata/` }, 10_000);
      if (!metadata.ok) return metadata;
      for (const object of metadata.value.objects) {
        const match = CUR2_MANIFEST.exec(object.key.slice(`${folder}metadata/`.length));
        if (match?.[1] !== undefined && match[2] === name) {
          found.push({ kind: "cur2", exportName: name, billingPeriod: match[1], manifestKey: object.key });
        }
      }
    }
    for (const dated of inside.value.commonPrefixes) {
      const match = LEGACY_RANGE.exec(dated.slice(folder.length));
      if (match?.[1] !== undefined && match[2] !== undefined) {
        found.push({
          kind: "cur_legacy",
          exportName: name,
          billingPeriod: `${match[1]}-${match[2]}`,
          manifestKey: `${dated}${name}-Manifest.json`,
        });
      }
    }
  }
  found.sort((a, b) => a.billingPeriod.localeCompare(b.billingPeriod) || a.manifestKey.localeCompare(b.manifestKey));
  return { ok: true, value: found };
}

type ParsedManifest = { executionId: string | null; dataKeys: string[] };

/** The data file keys and execution id of a manifest's JSON, or why it cannot be used. */
export function parseManifest(kind: ExportKind, bucket: string, body: string): ParsedManifest | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return "the manifest is not JSON";
  }
  if (typeof json !== "object" || json === null) return "the manifest is not a JSON object";
  const fields = json as Record<string, unknown>;
  const list = kind === "cur2" ? fields.dataFiles : fields.reportKeys;
  const id = kind === "cur2" ? fields.executionId : fields.assemblyId;
  if (!Array.isArray(list) || !list.every((k): k is string => typeof k === "string")) {
    return `the manifest has no ${kind === "cur2" ? "dataFiles" : "reportKeys"} list`;
  }
  const dataKeys: string[] = [];
  const inBucket = `s3://${bucket}/`;
  for (const entry of list) {
    if (kind === "cur_legacy") dataKeys.push(entry);
    else if (entry.startsWith(inBucket)) dataKeys.push(entry.slice(inBucket.length));
    else return `the manifest names a file outside s3://${bucket}/`;
  }
  return { executionId: typeof id === "string" && id !== "" ? id : null, dataKeys };
}

/** One period: its manifest read, its data files' sizes listed. Failures of AWS end the run; a bad manifest is skipped. */
export async function readPeriod(s3: S3, at: ManifestLocation): Promise<S3Result<ExportPeriod | Skipped>> {
  const got = await getText(s3, at.manifestKey, 8 * 1024 * 1024);
  if (!got.ok) {
    return got.reason.code === "no_such_key"
      ? { ok: true, value: { key: at.manifestKey, reason: "no manifest in this folder" } }
      : got;
  }
  const parsed = parseManifest(at.kind, s3.location.bucket, got.value.text);
  if (typeof parsed === "string") return { ok: true, value: { key: at.manifestKey, reason: parsed } };
  const sizes = new Map<string, number>();
  const folders = new Set(parsed.dataKeys.map((k) => k.slice(0, k.lastIndexOf("/") + 1)));
  for (const folder of folders) {
    const listed = await listAll(s3, { prefix: folder }, 100_000);
    if (!listed.ok) return listed;
    for (const object of listed.value.objects) sizes.set(object.key, object.size);
  }
  const dataFiles = parsed.dataKeys.map((key) => ({ key, size: sizes.get(key) ?? null }));
  const etag = got.value.object.etag;
  return {
    ok: true,
    value: {
      ...at,
      manifestEtag: etag,
      executionId: parsed.executionId,
      fingerprint: `${at.kind}:${parsed.executionId ?? "-"}:${etag}`,
      dataFiles,
      complete: dataFiles.every((f) => f.size !== null),
    },
  };
}

function isSkipped(value: ExportPeriod | Skipped): value is Skipped {
  return "reason" in value;
}

/** Every billing period under `prefix` (CUR 2.0 and legacy CUR), oldest first. */
export async function discoverPeriods(s3: S3, prefix: string): Promise<S3Result<Discovery>> {
  const locations = await findManifests(s3, prefix);
  if (!locations.ok) return locations;
  const periods: ExportPeriod[] = [];
  const skipped: Skipped[] = [];
  for (const at of locations.value) {
    const read = await readPeriod(s3, at);
    if (!read.ok) return read;
    if (isSkipped(read.value)) skipped.push(read.value);
    else periods.push(read.value);
  }
  return { ok: true, value: { periods, skipped } };
}

/** The periods whose fingerprint is new or changed since the last run (`seen`: manifest key → fingerprint). */
export function changedPeriods(periods: readonly ExportPeriod[], seen: ReadonlyMap<string, string>): ExportPeriod[] {
  return periods.filter((p) => p.complete && seen.get(p.manifestKey) !== p.fingerprint);
}
