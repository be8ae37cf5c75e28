// Starts the demo upstream (the provider stand-in) on a loopback port for the whole run.
import type { TestProject } from "vitest/node";
import { startUpstream } from "../demo/upstream/server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const upstream = await startUpstream({ port: 0 });
  project.provide("upstreamUrl", upstream.url);
  return async () => {
    await upstream.close();
  };
}
