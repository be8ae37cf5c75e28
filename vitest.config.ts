// Two projects in one run (`npm test`):
// - workers: tests inside workerd through @cloudflare/vitest-plugin — real D1, Durable Objects,
//   Queues and R2 from Miniflare. The only stand-ins are the LLM provider (the demo upstream) and
//   the identity provider (oidc-provider), started by test/global-setup.ts on loopback ports.
// - browser: the dashboard in Debian's headless Chromium (playwright-core) against `wrangler dev`,
//   started by test/browser/global-setup.ts.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { OUTLAY_ACCOUNT_ID, OUTLAY_KEY } from "./test/stand-ins/aws/fixtures.ts";

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                KEY_PEPPER: "test-pepper-0123456789abcdef0123456789abcdef",
                DATA_KEYS:
                  "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,v1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=",
                SESSION_SECRET: "test-session-secret-0123456789abcdef",
                OPERATOR_TOKEN: "test-operator-token-0123456789abcdef",
                // Ed25519 seeds (32 bytes each): v2 signs, v1 is a retired key still listed.
                AUDIT_SIGNING_KEYS:
                  "v2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,v1:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=",
                // Seal runs of fewer than 1,000 events after 300 ms instead of a minute.
                AUDIT_SEAL_AFTER_MS: "300",
                ALLOW_LOOPBACK_UPSTREAMS: "true",
                TEST_MIGRATIONS: await readD1Migrations("./d1/migrations"),
                UPSTREAM_URL: inject<string>("upstreamUrl"),
                OIDC_TEST_ISSUER: inject<string>("oidcIssuer"),
                OIDC_TEST_CLIENT_ID: inject<string>("oidcClientId"),
                OIDC_TEST_CLIENT_SECRET: inject<string>("oidcClientSecret"),
                WEBHOOK_RECEIVER_URL: inject<string>("webhookReceiverUrl"),
                AWS_STS_TEST_URL: inject<string>("awsStsUrl"),
                AWS_S3_TEST_URL: inject<string>("awsS3Url"),
                // The AWS connector, pointed at the stand-ins (test/stand-ins/aws/fixtures.ts).
                OUTLAY_AWS_ACCOUNT_ID: OUTLAY_ACCOUNT_ID,
                AWS_ACCESS_KEY_ID: OUTLAY_KEY.accessKeyId,
                AWS_SECRET_ACCESS_KEY: OUTLAY_KEY.secretAccessKey,
                AWS_STS_ENDPOINT: inject<string>("awsStsUrl"),
                AWS_S3_ENDPOINT: inject<string>("awsS3Url"),
                // Bill imports stop at every place they can go on from: parts and checkpoints in every import test.
                CLOUD_IMPORT_PART_MS: "0",
                // Webhook retries 1 s apart instead of 5 s to 10 h (the schedule's length is kept).
                WEBHOOK_RETRY_DELAYS: "1,1,1,1,1,1,1",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          globalSetup: ["./test/global-setup.ts"],
          setupFiles: ["./test/apply-migrations.ts"],
          include: ["test/**/*.test.ts"],
          exclude: ["test/browser/**"],
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        test: {
          name: "browser",
          environment: "node",
          globalSetup: ["./test/browser/global-setup.ts"],
          include: ["test/browser/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 150_000,
        },
      },
    ],
  },
});
