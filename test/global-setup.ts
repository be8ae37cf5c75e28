// Starts the demo upstream (the provider stand-in), a real OpenID Provider for the SSO tests
// (test/oidc-server.ts) and a webhook receiver that verifies with `standardwebhooks`
// (demo/webhook-receiver/) on loopback ports for the whole run.
import type { TestProject } from "vitest/node";
import { startUpstream } from "../demo/upstream/server.ts";
import { startReceiver } from "../demo/webhook-receiver/server.ts";
import { startOidcServer } from "./oidc-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamUrl: string;
    oidcIssuer: string;
    oidcClientId: string;
    oidcClientSecret: string;
    webhookReceiverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const upstream = await startUpstream({ port: 0 });
  project.provide("upstreamUrl", upstream.url);
  const oidc = await startOidcServer({ port: 0 });
  project.provide("oidcIssuer", oidc.issuer);
  project.provide("oidcClientId", oidc.clientId);
  project.provide("oidcClientSecret", oidc.clientSecret);
  const receiver = await startReceiver();
  project.provide("webhookReceiverUrl", receiver.url);
  return async () => {
    await receiver.close();
    await upstream.close();
    await oidc.close();
  };
}
