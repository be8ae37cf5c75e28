// Starts the demo upstream (the provider stand-in), a real OpenID Provider for the SSO tests
// (test/oidc-server.ts) and a webhook receiver that verifies with `standardwebhooks`
// (demo/webhook-receiver/) on loopback ports for the whole run, and the AWS STS and S3 stand-ins
// (test/stand-ins/aws/).
import type { TestProject } from "vitest/node";
import { startUpstream } from "../demo/upstream/server.ts";
import { startReceiver } from "../demo/webhook-receiver/server.ts";
import { startOidcServer } from "./oidc-server.ts";
import { startAwsStandIns } from "./stand-ins/aws/index.ts";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamUrl: string;
    oidcIssuer: string;
    oidcClientId: string;
    oidcClientSecret: string;
    webhookReceiverUrl: string;
    awsStsUrl: string;
    awsS3Url: string;
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
  const aws = await startAwsStandIns();
  project.provide("awsStsUrl", aws.stsUrl);
  project.provide("awsS3Url", aws.s3Url);
  return async () => {
    await aws.close();
    await receiver.close();
    await upstream.close();
    await oidc.close();
  };
}
