// ListObjectsV2 with a delimiter, answered by the proxy from s3rver's plain listing: s3rver
// 3.7.1's filesystem store prunes every directory below the first delimiter before it reads the
// keys in it, so a common prefix appears only when an object sits directly in it (a bucket laid
// out as `cur/<export>/metadata/BILLING_PERIOD=…/x` lists no folders at all under `cur/`). The
// answer is S3's own (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html):
// keys and CommonPrefixes in UTF-8 binary order, MaxKeys counting both, an opaque continuation token.
import { XMLParser } from "fast-xml-parser";
import { xmlEscape } from "./sigv4.ts";

type Entry = { kind: "key"; key: string; xml: string } | { kind: "prefix"; key: string };

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === "Contents" });

type Listed = {
  ListBucketResult?: {
    Contents?: { Key: string; LastModified: string; ETag: string; Size: string }[];
    IsTruncated?: string;
    NextContinuationToken?: string;
  };
};

/** Every key under `prefix`, read from s3rver page by page (no delimiter: that listing is right). */
async function allKeys(
  upstream: string,
  bucket: string,
  prefix: string,
): Promise<{ key: string; xml: string }[] | Response> {
  const out: { key: string; xml: string }[] = [];
  let token: string | null = null;
  do {
    const url = new URL(`${upstream}/${bucket}`);
    url.searchParams.set("list-type", "2");
    url.searchParams.set("prefix", prefix);
    if (token !== null) url.searchParams.set("continuation-token", token);
    const res = await fetch(url);
    if (res.status !== 200) return res;
    const doc = parser.parse(await res.text()) as Listed;
    for (const c of doc.ListBucketResult?.Contents ?? []) {
      out.push({
        key: c.Key,
        xml: `<Contents><Key>${xmlEscape(c.Key)}</Key><LastModified>${c.LastModified}</LastModified><ETag>${xmlEscape(c.ETag)}</ETag><Size>${c.Size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      });
    }
    token = doc.ListBucketResult?.IsTruncated === "true" ? (doc.ListBucketResult.NextContinuationToken ?? null) : null;
  } while (token !== null);
  return out;
}

export async function listWithDelimiter(
  upstream: string,
  bucket: string,
  query: URLSearchParams,
): Promise<{ status: number; body: string }> {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "/";
  const maxKeys = Math.min(Number(query.get("max-keys") ?? "1000"), 1000);
  const after = query.get("continuation-token");
  const keys = await allKeys(upstream, bucket, prefix);
  if (keys instanceof Response) return { status: keys.status, body: await keys.text() };
  const entries: Entry[] = [];
  const seen = new Set<string>();
  for (const { key, xml } of keys) {
    const cut = key.indexOf(delimiter, prefix.length);
    if (cut === -1) entries.push({ kind: "key", key, xml });
    else {
      const common = key.slice(0, cut + delimiter.length);
      if (!seen.has(common)) {
        seen.add(common);
        entries.push({ kind: "prefix", key: common });
      }
    }
  }
  const order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  entries.sort((a, b) => order(a.key, b.key));
  const from =
    after === null ? 0 : entries.findIndex((e) => order(e.key, Buffer.from(after, "base64").toString("utf8")) > 0);
  const page = from === -1 ? [] : entries.slice(from, from + maxKeys);
  const truncated = from !== -1 && from + maxKeys < entries.length;
  const last = page.at(-1);
  const body = [
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><Delimiter>${xmlEscape(delimiter)}</Delimiter>`,
    `<IsTruncated>${truncated}</IsTruncated>`,
    after === null ? "" : `<ContinuationToken>${xmlEscape(after)}</ContinuationToken>`,
    truncated && last !== undefined
      ? `<NextContinuationToken>${Buffer.from(last.key).toString("base64")}</NextContinuationToken>`
      : "",
    ...page.map((e) =>
      e.kind === "key" ? e.xml : `<CommonPrefixes><Prefix>${xmlEscape(e.key)}</Prefix></CommonPrefixes>`,
    ),
    `</ListBucketResult>`,
  ].join("");
  return { status: 200, body };
}
