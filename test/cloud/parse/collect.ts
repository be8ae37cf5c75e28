// Reads a bill to the end for a test: its lines, warnings and the error it ended with.
import type { BillLine } from "../../../workers/cloud/line.ts";
import { bytesSource, openBill, type BillProblem, type OpenedBill } from "../../../workers/cloud/parse/index.ts";

export type Read = { bill: OpenedBill; lines: BillLine[]; warnings: BillProblem[]; error: BillProblem | null };

export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Opens bytes as a bill; a problem at open is returned as it is. */
export async function open(bytes: Uint8Array): Promise<OpenedBill | BillProblem> {
  return openBill(bytesSource(bytes));
}

export async function readAll(bytes: Uint8Array): Promise<Read | BillProblem> {
  const bill = await open(bytes);
  if ("code" in bill) return bill;
  const result: Read = { bill, lines: [], warnings: [], error: null };
  for await (const event of bill.read()) {
    if (event.kind === "line") result.lines.push(event.line);
    else if (event.kind === "warning") result.warnings.push(event.problem);
    else result.error = event.problem;
  }
  return result;
}

/** readAll, failing the test when the file does not open. */
export async function readOpened(bytes: Uint8Array): Promise<Read> {
  const read = await readAll(bytes);
  if ("code" in read) throw new Error(`bill did not open: ${read.code} ${read.message}`);
  return read;
}

/** Sum of costNano per key. */
export function totals(lines: readonly BillLine[], key: (line: BillLine) => string): Record<string, bigint> {
  const sums: Record<string, bigint> = {};
  for (const line of lines) sums[key(line)] = (sums[key(line)] ?? 0n) + line.costNano;
  return sums;
}
