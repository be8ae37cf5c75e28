// Starts the AWS stand-ins (STS and S3, sharing the sessions STS issues) and seeds BUCKET with a
// CUR 2.0 export of two billing periods (manifest + one small CSV.gz each), laid out as AWS Data
// Exports writes it. Started by test/global-setup.ts.
import { gzipSync } from "node:zlib";
import { BUCKET, SEEDED } from "./fixtures.ts";
import { startS3 } from "./s3.ts";
import { Sessions } from "./sessions.ts";
import { startSts } from "./sts.ts";

export type RunningAws = { stsUrl: string; s3Url: string; close(): Promise<void> };

const CSV_HEADER =
  "bill_billing_period_start_date,line_item_usage_account_id,line_item_product_code,line_item_usage_type,line_item_unblended_cost,line_item_currency_code";

export async function startAwsStandIns(): Promise<RunningAws> {
  const sessions = new Sessions();
  const sts = await startSts(sessions);
  const s3 = await startS3(sessions);
  const { prefix, exportName } = SEEDED;
  for (const period of SEEDED.periods) {
    const csv = `${CSV_HEADER}\n${period}-01T00:00:00.000Z,111122223333,AmazonBedrock,USE1-Claude4Sonnet-input-tokens,1.2345678901,USD\n`;
    const dataKey = `${prefix}/${exportName}/data/BILLING_PERIOD=${period}/${exportName}-00001.csv.gz`;
    await s3.put(BUCKET, dataKey, gzipSync(csv));
    const manifest = {
      executionId: `exec-${period}-0001`,
      exportArn: "arn:aws:bcm-data-exports:us-east-1:111122223333:export/outlay-cur2-0000",
      columns: [{ name: "line_item_unblended_cost", type: "double" }],
      dataFiles: [`s3://${BUCKET}/${dataKey}`],
    };
    const manifestKey = `${prefix}/${exportName}/metadata/BILLING_PERIOD=${period}/${exportName}-Manifest.json`;
    await s3.put(BUCKET, manifestKey, new TextEncoder().encode(JSON.stringify(manifest)));
  }
  return {
    stsUrl: sts.url,
    s3Url: s3.url,
    async close() {
      await s3.close();
      await sts.close();
    },
  };
}
