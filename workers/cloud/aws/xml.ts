// The XML of AWS's query (STS) and REST (S3) answers, read with fast-xml-parser: tag values kept
// as strings (an ETag or a key such as "0001" must not become a number), attributes ignored,
// entities decoded (`&quot;` in ETags). Lists that may hold one element are always arrays.
import { XMLParser } from "fast-xml-parser";

const ALWAYS_ARRAYS = new Set(["Contents", "CommonPrefixes"]);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ALWAYS_ARRAYS.has(name),
});

/** A parsed element: nested elements, strings, or arrays of either. */
export type XmlNode = { [name: string]: XmlValue | undefined };
export type XmlValue = string | XmlNode | XmlValue[];

/** The document's root object, or null when the text is not XML. */
export function parseXml(body: string): XmlNode | null {
  try {
    const parsed: unknown = parser.parse(body, true);
    return typeof parsed === "object" && parsed !== null ? (parsed as XmlNode) : null;
  } catch {
    return null;
  }
}

/** The element's text, or null when it is missing or not a text element. */
export function text(value: XmlValue | undefined): string | null {
  return typeof value === "string" ? value : null;
}

/** The element as a node, or null. */
export function node(value: XmlValue | undefined): XmlNode | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
}

/** The elements of a repeated tag (always an array). */
export function nodes(value: XmlValue | undefined): XmlNode[] {
  if (!Array.isArray(value)) return node(value) === null ? [] : [value as XmlNode];
  return value.filter((v): v is XmlNode => node(v) !== null);
}
