// What going on from a place costs a CSV.gz part opened in a new isolate (docs/cloud.md,
// "A gzip stream is not entered in the middle"): the bytes before the place are inflated again,
// not parsed. This times inflating a whole bill with node:zlib's gunzip (the library the import
// uses in workerd, through nodejs_compat) and reports the inflated bytes per second, so the
// cost of reaching any place is its offset divided by that rate.
//   ./node_modules/.bin/node test/bench/cloud-inflate.ts FILE.csv.gz
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { createGunzip } from "node:zlib";

const file = process.argv[2];
if (!file) {
  console.error("usage: node test/bench/cloud-inflate.ts FILE.csv.gz");
  process.exit(2);
}
const stored = (await stat(file)).size;
const began = performance.now();
const cpuBefore = process.cpuUsage();
let inflated = 0;
for await (const chunk of createReadStream(file).pipe(createGunzip())) inflated += (chunk as Buffer).byteLength;
const seconds = (performance.now() - began) / 1_000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
console.log(
  JSON.stringify({
    file,
    storedMB: mb(stored),
    inflatedMB: mb(inflated),
    seconds: seconds.toFixed(1),
    cpuSeconds: cpuSeconds.toFixed(1),
    inflatedMBPerSecond: (inflated / 1e6 / seconds).toFixed(0),
    node: process.version,
  }),
);
