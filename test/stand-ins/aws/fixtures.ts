// The AWS stand-ins' fixed world, shared by the stand-ins (Node) and the tests (workerd): no
// Node imports here. Keys and ids are made up for the tests; none is a real AWS credential.

export const REGION = "us-east-1";

/** Outlay's own key, the only caller the STS stand-in knows. */
export const OUTLAY_KEY = {
  accessKeyId: "AKIAOUTLAYTEST000001",
  secretAccessKey: "outlay-test-secret/0123456789abcdefghijklmn",
};
export const OUTLAY_ACCOUNT_ID = "999988887777";

export const BUCKET = "outlay-cur";
/** A bucket that exists but no role may read (its policy refuses Outlay). */
export const DENIED_BUCKET = "outlay-cur-denied";
/** A bucket the reader role may read but that does not exist. */
export const MISSING_BUCKET = "outlay-cur-missing";

export type StandInRole = {
  arn: string;
  externalId: string;
  /** buckets its sessions may read */
  buckets: string[];
  /** how long its sessions live (AWS: the asked DurationSeconds); short for expiry tests */
  sessionLifetimeMs: number | null;
};

export const ROLES = {
  reader: {
    arn: "arn:aws:iam::111122223333:role/OutlayCurRead",
    externalId: "outlay-ext-7f3a9c2e5d1b",
    buckets: [BUCKET, MISSING_BUCKET],
    sessionLifetimeMs: null,
  },
  /** sessions that expire one second after they are issued */
  shortLived: {
    arn: "arn:aws:iam::111122223333:role/OutlayCurReadShort",
    externalId: "outlay-ext-5e8b1a0c4f2d",
    buckets: [BUCKET],
    sessionLifetimeMs: 1000,
  },
} satisfies Record<string, StandInRole>;

/** The export the stand-in seeds in BUCKET (CUR 2.0 layout, two billing periods). */
export const SEEDED = {
  prefix: "cur",
  exportName: "outlay-cur2",
  periods: ["2026-10", "2026-11"],
};

/** What one signed AssumeRole asked the STS stand-in (GET <sts>/_control/asked/<RoleSessionName>). */
export type AssumeRoleAsked = { roleArn: string; durationSeconds: number };
