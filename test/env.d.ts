import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      UPSTREAM_URL: string;
      OIDC_TEST_ISSUER: string;
      OIDC_TEST_CLIENT_ID: string;
      OIDC_TEST_CLIENT_SECRET: string;
      WEBHOOK_RECEIVER_URL: string;
      AWS_STS_TEST_URL: string;
      AWS_S3_TEST_URL: string;
    }
  }
}
