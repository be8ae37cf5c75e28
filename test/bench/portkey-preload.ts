// Preloaded into the Portkey gateway process (node --import) to work around a known Portkey bug
// on Node: with @hono/node-server > 1.14.2 (npm installs 1.19.x), streamed responses fail with
// "TypeError: immutable" because Portkey appends x-portkey-* headers to the upstream fetch
// response, whose headers are immutable (Portkey-AI/gateway#1389, #1550). Every call then
// answers 500 {"status":"failure"}. This re-wraps each fetch response once, so its headers
// are mutable; the body is the same stream (not copied or buffered).
const originalFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;

globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const response = await originalFetch(input, init);
  return new NativeResponse(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};
