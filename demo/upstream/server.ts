// Runs the demo upstream on Node with @hono/node-server.
//   import { startUpstream } from "./demo/upstream/server.ts";
//   node demo/upstream/server.ts --port 8788 [--host 127.0.0.1]

import { serve } from "@hono/node-server";
import { createUpstreamApp, type UpstreamOptions } from "./app.ts";

export interface StartUpstreamOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Options of the app (log size, default lengths). */
  app?: UpstreamOptions;
}

export interface RunningUpstream {
  /** e.g. http://127.0.0.1:8788 — provider base URLs are url + /openai/v1, /anthropic/v1, /google. */
  url: string;
  close(): Promise<void>;
}

interface ListeningServer {
  close(callback?: (error?: Error) => void): unknown;
  closeAllConnections?: () => void;
  once(event: "error", listener: (error: Error) => void): unknown;
}

interface Destroyable {
  destroy(): unknown;
}

function hasDestroy(value: unknown): value is Destroyable {
  return typeof value === "object" && value !== null && typeof (value as Partial<Destroyable>).destroy === "function";
}

/**
 * Re-wraps a response body so that when it fails (the `cut` scenario), the socket is destroyed
 * without an error log, instead of @hono/node-server logging the stream error. The client sees
 * an incomplete chunked body: a network error, not a clean end.
 */
function abortOnBodyError(response: Response, outgoing: unknown): Response {
  const source = response.body;
  if (source === null || !hasDestroy(outgoing)) return response;
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch {
          // Leave the stream pending: destroying the socket makes node-server cancel it.
          outgoing.destroy();
        }
      },
      cancel(reason) {
        return reader.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export async function startUpstream(opts: StartUpstreamOptions = {}): Promise<RunningUpstream> {
  const app = createUpstreamApp(opts.app);
  const host = opts.host ?? "127.0.0.1";
  return new Promise<RunningUpstream>((resolve, reject) => {
    const server: ListeningServer = serve(
      {
        fetch: async (request, env) => abortOnBodyError(await app.fetch(request), env.outgoing),
        port: opts.port ?? 0,
        hostname: host,
      },
      (info) => {
        let closing: Promise<void> | undefined;
        resolve({
          url: `http://${urlHost(host)}:${info.port}`,
          // Idempotent: a second call returns the first call's promise.
          close: () =>
            (closing ??= new Promise<void>((done, fail) => {
              server.close((error) => (error === undefined ? done() : fail(error)));
              server.closeAllConnections?.();
            })),
        });
      },
    );
    server.once("error", reject);
  });
}

function flag(argv: readonly string[], name: string): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === `--${name}`) return argv[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const port = Number(flag(argv, "port") ?? "8788");
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid --port: ${String(flag(argv, "port"))}`);
  const upstream = await startUpstream({ port, host: flag(argv, "host") ?? "127.0.0.1" });
  console.log(`demo upstream listening on ${upstream.url}`);
  const stop = (): void => {
    void upstream.close().then(() => {
      process.exitCode = 0;
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
