// Tests run inside workerd through @cloudflare/vitest-plugin: real D1, Durable Objects, Queues
// and R2 from Miniflare. The only stand-in is the LLM provider: the demo upstream, started by
// test/global-setup.ts on a loopback port and reached over real HTTP.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          KEY_PEPPER: "test-pepper-0123456789abcdef0123456789abcdef",
          DATA_KEYS: "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,v1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=",
          SESSION_SECRET: "test-session-secret-0123456789abcdef",
          OPERATOR_TOKEN: "test-operator-token-0123456789abcdef",
          ALLOW_LOOPBACK_UPSTREAMS: "true",
          TEST_MIGRATIONS: await readD1Migrations("./d1/migrations"),
          UPSTREAM_URL: inject<string>("upstreamUrl"),
          OIDC_TEST_ISSUER: inject<string>("oidcIssuer"),
          OIDC_TEST_CLIENT_ID: inject<string>("oidcClientId"),
          OIDC_TEST_CLIENT_SECRET: inject<string>("oidcClientSecret"),
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
