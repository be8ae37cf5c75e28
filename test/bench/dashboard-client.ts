// A sequential page client for the dashboard benchmark: GET requests one at a time on one
// keep-alive loopback connection (TCP_NODELAY), each timed on the monotonic clock from the
// write to the last byte of the response (content-length or chunked), with its body size and
// its Server-Timing header.
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";

export type Sample = { status: number; ms: number; bytes: number; serverTiming: string | null };

/** Where a chunked body that starts at `at` ends, and its size; null while it is incomplete. */
function chunkedEnd(buf: Buffer, at: number): { end: number; bytes: number } | null {
  let pos = at;
  let bytes = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", pos, "latin1");
    if (eol < 0) return null;
    const size = Number.parseInt(buf.toString("latin1", pos, eol).split(";")[0] ?? "", 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    if (size === 0) {
      const end = buf.indexOf("\r\n\r\n", eol, "latin1");
      return end < 0 ? null : { end: end + 4, bytes };
    }
    const next = eol + 2 + size + 2;
    if (buf.length < next) return null;
    bytes += size;
    pos = next;
  }
}

/** The connection closed before any byte of the answer (an idle keep-alive connection). */
class ClosedBeforeAnswer extends Error {
  constructor() {
    super("connection closed before the answer");
  }
}

export class PageClient {
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  #socket: Socket | null = null;

  constructor(origin: string, headers: Record<string, string>, timeoutMs: number) {
    this.#url = new URL(origin);
    this.#headers = headers;
    this.#timeoutMs = timeoutMs;
  }

  #open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(this.#url.port), this.#url.hostname);
      socket.setNoDelay(true);
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
      // Between requests nothing listens: an idle connection the server resets or closes is
      // simply not used again (errors during a request reach the exchange's own listener).
      socket.on("error", () => undefined);
      socket.once("close", () => {
        if (this.#socket === socket) this.#socket = null;
      });
    });
  }

  async get(path: string, extra: Record<string, string> = {}): Promise<Sample> {
    const headers = { ...this.#headers, ...extra, host: this.#url.host, connection: "keep-alive" };
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    const request = `GET ${path} HTTP/1.1\r\n${head.join("")}\r\n`;
    for (let attempt = 1; ; attempt += 1) {
      const kept = this.#socket !== null && !this.#socket.destroyed;
      const socket = kept && this.#socket ? this.#socket : await this.#open();
      this.#socket = socket;
      try {
        return await this.#exchange(socket, request);
      } catch (error) {
        socket.destroy();
        this.#socket = null;
        // A kept-alive connection the server had closed while idle: once more on a new one.
        if (kept && attempt === 1 && error instanceof ClosedBeforeAnswer) continue;
        throw error;
      }
    }
  }

  #exchange(socket: Socket, request: string): Promise<Sample> {
    return new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      let bodyAt = -1;
      let status = 0;
      let length = -1;
      let chunked = false;
      let serverTiming: string | null = null;
      const started = performance.now();
      const done = (error: Error | null, bytes = 0): void => {
        const ms = performance.now() - started;
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("error", done);
        socket.off("close", onClose);
        if (error) reject(error);
        else resolve({ status, ms, bytes, serverTiming });
      };
      const onData = (data: Buffer): void => {
        buf = Buffer.concat([buf, data]);
        if (bodyAt < 0) {
          const end = buf.indexOf("\r\n\r\n", 0, "latin1");
          if (end < 0) return;
          bodyAt = end + 4;
          const text = buf.toString("latin1", 0, end);
          status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
          length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? -1);
          chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text);
          serverTiming = /\r\nserver-timing:\s*([^\r]*)/i.exec(text)?.[1] ?? null;
          if (!chunked && length < 0) return done(new Error(`response without length: ${text.split("\r\n")[0]}`));
        }
        if (chunked) {
          const found = chunkedEnd(buf, bodyAt);
          if (found) done(null, found.bytes);
        } else if (buf.length - bodyAt >= length) done(null, length);
      };
      const onClose = (): void => done(buf.length === 0 ? new ClosedBeforeAnswer() : new Error("connection closed"));
      const timer = setTimeout(() => done(new Error(`no complete answer in ${this.#timeoutMs} ms`)), this.#timeoutMs);
      if (socket.destroyed || !socket.writable) return done(new ClosedBeforeAnswer());
      socket.on("data", onData);
      socket.on("error", done);
      socket.on("close", onClose);
      socket.write(request);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }
}

export type Stats = { p50Ms: number; p95Ms: number; p99Ms: number; meanMs: number; minMs: number; maxMs: number };

/** Nearest-rank percentiles. */
export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return {
    p50Ms: at(50),
    p95Ms: at(95),
    p99Ms: at(99),
    meanMs: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}
