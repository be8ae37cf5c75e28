// The container from the first bytes, never asked: gzip magic `1f 8b` → csv.gz, `PAR1` at both
// ends → Parquet, else CSV text (UTF-8, optional BOM) — checked here for what is plainly not a
// bill (binary, HTML, JSON, nothing at all).
import type { BillFormat } from "../line.ts";
import { problem, type BillProblem } from "./problem.ts";
import type { BillSource } from "./source.ts";

/** Bytes looked at to judge the start of a text file. */
export const SNIFF_BYTES = 4096;

const PAR1 = [0x50, 0x41, 0x52, 0x31];

function isPar1(bytes: Uint8Array, at: number): boolean {
  return PAR1.every((byte, i) => bytes[at + i] === byte);
}

export async function detectFormat(source: BillSource): Promise<BillFormat | BillProblem> {
  if (source.size === 0) return problem("empty", "The file is empty.");
  const head = await source.read(0, Math.min(source.size, 4));
  if (head[0] === 0x1f && head[1] === 0x8b) return "csv.gz";
  if (head.length === 4 && isPar1(head, 0)) {
    if (source.size < 12) return problem("truncated", "The Parquet file ends before its footer: it was cut short.");
    const tail = await source.read(source.size - 4, 4);
    return isPar1(tail, 0) ? "parquet" : problem("truncated", "The Parquet file has no footer: it was cut short.");
  }
  return "csv";
}

/** What is wrong with the first bytes of a CSV's text, or null when they may be a CSV. */
export function sniffText(start: Uint8Array, atEnd: boolean): BillProblem | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(start, { stream: !atEnd });
  } catch {
    return problem("not_a_bill", "The file is not text (not UTF-8): it is not a CSV, CSV.gz or Parquet bill.");
  }
  if (text.includes("\u0000")) {
    return problem("not_a_bill", "The file is binary: it is not a CSV, CSV.gz or Parquet bill.");
  }
  const body = text.replace(/^\uFEFF/, "").trimStart();
  if (body.length === 0) return problem("empty", "The file has no header and no rows.");
  const first = body[0];
  if (first === "<") return problem("not_a_bill", "The file looks like HTML or XML, not a CSV bill.");
  if (first === "{" || first === "[") return problem("not_a_bill", "The file looks like JSON, not a CSV bill.");
  return null;
}
