// In-memory log of what the demo upstream served (GET/DELETE /_demo/requests). Tests use it as
// the ground truth of "the usage the upstream sent". It never holds keys or message content.
//
// Requests that carry an `x-test-id` header are also kept per test id (GET
// /_demo/requests?test_id=...): a test's own view, which other tests' traffic can neither fill
// nor push out, so "this test's call never reached the upstream" stays provable however busy
// the shared upstream is.

export type Provider = "openai" | "anthropic" | "google";

export interface DemoRequestRecord {
  /** The request id the upstream sent back (x-request-id / request-id / responseId). */
  id: string;
  provider: Provider;
  method: string;
  /** URL path without the query string (Gemini's `?key=` never reaches the log). */
  path: string;
  /** Model as echoed back (scenario suffix stripped), null when the request named none. */
  model: string | null;
  stream: boolean;
  scenario: string | null;
  status: number;
  /** The last usage object sent, exactly as sent (native field names), or null. */
  usage: object | null;
  /** False while a stream runs, and for good when it was cut or the client went away. */
  completed: boolean;
  /** Output pieces (answer words, thinking words, tool-argument fragments) delivered. */
  outputChunks: number;
  keyPresent: boolean;
  /** Non-secret request headers named `x-*`, `anthropic-*` or `openai-*`. */
  headers: Record<string, string>;
  /** The output-limit fields the body carried (limits.ts), once it was read: e.g.
   * `{ "max_tokens": 100, "thinking.type": "enabled", "thinking.budget_tokens": 1024 }`. */
  limits?: Record<string, number | string>;
  /** The names (never the values) of every request header, sorted: shows which credential
   * headers reached the upstream. */
  headerNames: string[];
  /** The names (never the values) of the query parameters, sorted. */
  queryNames: string[];
  /** ISO time the request arrived. */
  at: string;
}

export interface RequestLog {
  start(init: { id: string; provider: Provider; request: Request; key: string | null }): DemoRequestRecord;
  /** Every request (newest last), or only those whose `x-test-id` header was `testId`. */
  list(testId?: string): DemoRequestRecord[];
  clear(): void;
}

export const DEFAULT_LOG_LIMIT = 1_000;
/** The request header that files a request under a test id as well. */
export const TEST_ID_HEADER = "x-test-id";
/** How many test ids are remembered (the oldest id is forgotten first). */
export const TEST_ID_LIMIT = 10_000;
const TEST_ID_MAX_LENGTH = 128;

const LOGGED_PREFIXES = ["x-", "anthropic-", "openai-"];
const SECRET_NAME = /key|auth|secret|token|cookie|password|passwd|session|credential|signature|jwt/;

/** The headers of a request that may be logged: prefixed names, nothing secret-looking. */
export function loggableHeaders(headers: Headers, key: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, rawName) => {
    const name = rawName.toLowerCase();
    if (!LOGGED_PREFIXES.some((prefix) => name.startsWith(prefix))) return;
    if (!name.startsWith("x-demo-") && SECRET_NAME.test(name)) return;
    if (key !== null && key !== "" && value.includes(key)) return;
    out[name] = value;
  });
  return out;
}

function copy(entry: DemoRequestRecord): DemoRequestRecord {
  return {
    ...entry,
    headers: { ...entry.headers },
    headerNames: [...entry.headerNames],
    queryNames: [...entry.queryNames],
  };
}

export function createRequestLog(limit: number = DEFAULT_LOG_LIMIT, testIdLimit: number = TEST_ID_LIMIT): RequestLog {
  let entries: DemoRequestRecord[] = [];
  const byTestId = new Map<string, DemoRequestRecord[]>();
  const file = (testId: string, record: DemoRequestRecord) => {
    const own = byTestId.get(testId) ?? [];
    own.push(record);
    if (own.length > limit) own.shift();
    byTestId.delete(testId);
    byTestId.set(testId, own);
    if (byTestId.size > testIdLimit) {
      const oldest = byTestId.keys().next();
      if (!oldest.done) byTestId.delete(oldest.value);
    }
  };
  return {
    start({ id, provider, request, key }) {
      const record: DemoRequestRecord = {
        id,
        provider,
        method: request.method,
        path: new URL(request.url).pathname,
        model: null,
        stream: false,
        scenario: null,
        status: 0,
        usage: null,
        completed: false,
        outputChunks: 0,
        keyPresent: key !== null && key !== "",
        headers: loggableHeaders(request.headers, key),
        headerNames: [...request.headers.keys()].sort(),
        queryNames: [...new Set(new URL(request.url).searchParams.keys())].sort(),
        at: new Date().toISOString(),
      };
      entries.push(record);
      if (entries.length > limit) entries = entries.slice(entries.length - limit);
      const testId = request.headers.get(TEST_ID_HEADER);
      if (testId !== null && testId !== "" && testId.length <= TEST_ID_MAX_LENGTH) file(testId, record);
      return record;
    },
    list(testId) {
      if (testId === undefined) return entries.map(copy);
      return (byTestId.get(testId) ?? []).map(copy);
    },
    clear() {
      entries = [];
      byTestId.clear();
    },
  };
}
