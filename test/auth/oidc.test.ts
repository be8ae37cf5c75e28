// The OpenID Connect client (workers/auth/oidc.ts) against a real OpenID Provider: oidc-provider,
// started by test/global-setup.ts and driven like a browser by ./oidc-driver.ts. Where a check
// needs a provider that misbehaves (a bad discovery document, an ID token signed by a trusted key
// but with bad claims), https://idp.outlay.test is answered at the network boundary (fetch).
//
//   Discovery 1.0 section 4 ........ discovery, issuer equality, https endpoints, S256
//   Core 1.0 3.1.2 / RFC 7636 ...... the authorization request with PKCE S256
//   Core 1.0 3.1.2.5-3.1.3.3 ....... state, iss (RFC 9207), error, code redemption, replay
//   Core 1.0 3.1.3.7 ............... ID token: signature, alg, iss, aud, azp, exp, iat, nonce, sub
import { env } from "cloudflare:workers";
import { base64url, exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  beginOidc,
  discover,
  finishOidc,
  verifyIdToken,
  type OidcConfig,
  type OidcMetadata,
  type OidcResult,
} from "../../workers/auth/oidc.ts";
import { driveSignIn } from "./oidc-driver.ts";

const CALLBACK = "http://outlay.test/sso/callback";
const FAKE = "https://idp.outlay.test";
const config: OidcConfig = {
  issuer: env.OIDC_TEST_ISSUER,
  clientId: env.OIDC_TEST_CLIENT_ID,
  clientSecret: env.OIDC_TEST_CLIENT_SECRET,
};

let metadata: OidcMetadata;
beforeAll(async () => {
  metadata = unwrap(await discover(config.issuer, { allowLoopbackHttp: true }));
});
afterEach(() => {
  vi.unstubAllGlobals();
});

function unwrap<T>(result: OidcResult<T>): T {
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result.value;
}

function failure<T>(result: OidcResult<T>): { code: string; message: string } {
  if (result.ok) throw new Error("expected a failure");
  return { code: result.code, message: result.message };
}

/** Answers fetches to https://idp.outlay.test from `routes`; anything else goes out as usual. */
function fakeIdp(routes: Record<string, unknown>): string[] {
  const realFetch = globalThis.fetch;
  const seen: string[] = [];
  vi.stubGlobal("fetch", (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    seen.push(url.href);
    if (url.origin !== FAKE) return realFetch(input, init);
    const body = routes[url.pathname];
    return Promise.resolve(body === undefined ? new Response("not found", { status: 404 }) : Response.json(body));
  });
  return seen;
}

/** A sign-in at the real provider up to the callback. */
async function signIn(login: string, { keepNonce = true } = {}) {
  const start = await beginOidc(config, metadata, CALLBACK);
  const url = new URL(start.url);
  if (!keepNonce) url.searchParams.delete("nonce");
  const callback = await driveSignIn(url.href, { login });
  return { start, params: callback.searchParams };
}

/** A real ID token: the code redeemed by the test itself, as the client would (client_secret_basic). */
async function realIdToken(login: string, options: { keepNonce?: boolean } = {}) {
  const { start, params } = await signIn(login, options);
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`${config.clientId}:${config.clientSecret}`)}` },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code") ?? "",
      redirect_uri: CALLBACK,
      code_verifier: start.codeVerifier,
    }),
  });
  const { id_token } = (await response.json()) as { id_token: string };
  return { idToken: id_token, nonce: start.nonce };
}

describe("discovery (OpenID Connect Discovery 1.0)", () => {
  it("reads the real provider's metadata and caches it per isolate", async () => {
    expect(metadata.issuer).toBe(config.issuer);
    expect(metadata.token_endpoint).toBe(`${config.issuer}/token`);
    expect(metadata.code_challenge_methods_supported).toContain("S256");
    expect(unwrap(await discover(config.issuer, { allowLoopbackHttp: true }))).toBe(metadata);
  });

  it("refuses a document whose issuer differs from the configured one, even by a trailing slash", async () => {
    const result = failure(await discover(`${config.issuer}/`, { allowLoopbackHttp: true }));
    expect(result.code).toBe("issuer_mismatch");
    expect(failure(await discover(`${config.issuer}/tenant`, { allowLoopbackHttp: true })).code).toBe(
      "discovery_failed",
    );
  });

  it("refuses http issuers without touching the network unless loopback http is allowed", async () => {
    const seen = fakeIdp({});
    for (const issuer of ["http://sso.example.com", "https://sso.example.com?tenant=1", "ftp://sso.example.com"]) {
      expect(failure(await discover(issuer, { allowLoopbackHttp: true })).code).toBe("insecure_endpoint");
    }
    // The real provider's metadata is cached, but not handed out without the loopback allowance.
    expect(failure(await discover(config.issuer)).code).toBe("insecure_endpoint");
    expect(seen).toEqual([]);
  });

  it("refuses issuers and endpoints on private, link-local or metadata hosts, in every spelling", async () => {
    const seen = fakeIdp({});
    for (const issuer of [
      "https://169.254.169.254",
      "https://10.0.0.1/sso",
      "https://0x7f000001",
      "https://[fd00::1]",
      "https://[::ffff:10.0.0.1]",
      "https://metadata.google.internal",
      "https://sso",
      "https://idp.corp.internal",
    ]) {
      const code = failure(await discover(issuer)).code;
      expect({ issuer, code }).toEqual({ issuer, code: "insecure_endpoint" });
    }
    expect(seen).toEqual([]);
    const good = {
      authorization_endpoint: `${FAKE}/authorize`,
      token_endpoint: `${FAKE}/token`,
      jwks_uri: `${FAKE}/jwks`,
      response_types_supported: ["code"],
    };
    const cases: [string, Record<string, unknown>][] = [
      ["/p1", { ...good, issuer: `${FAKE}/p1`, token_endpoint: "https://169.254.169.254/token" }],
      ["/p2", { ...good, issuer: `${FAKE}/p2`, jwks_uri: "https://192.168.1.10/jwks" }],
      ["/p3", { ...good, issuer: `${FAKE}/p3`, userinfo_endpoint: "https://metadata.google.internal/u" }],
    ];
    fakeIdp(Object.fromEntries(cases.map(([path, doc]) => [`${path}/.well-known/openid-configuration`, doc])));
    for (const [path] of cases) {
      const code = failure(await discover(`${FAKE}${path}`)).code;
      expect({ path, code }).toEqual({ path, code: "insecure_endpoint" });
    }
  });

  it("refuses documents with http endpoints, no code flow or no S256", async () => {
    const good = {
      issuer: FAKE,
      authorization_endpoint: `${FAKE}/authorize`,
      token_endpoint: `${FAKE}/token`,
      jwks_uri: `${FAKE}/jwks`,
      response_types_supported: ["code"],
    };
    const cases: [string, Record<string, unknown>, string][] = [
      ["/a", { ...good, issuer: `${FAKE}/a`, token_endpoint: "http://idp.outlay.test/token" }, "insecure_endpoint"],
      ["/b", { ...good, issuer: `${FAKE}/b`, jwks_uri: "http://127.0.0.1/jwks" }, "insecure_endpoint"],
      ["/c", { ...good, issuer: `${FAKE}/c`, response_types_supported: ["id_token"] }, "discovery_failed"],
      ["/d", { ...good, issuer: `${FAKE}/d`, code_challenge_methods_supported: ["plain"] }, "discovery_failed"],
      ["/e", { ...good, issuer: `${FAKE}/e`, token_endpoint: undefined }, "discovery_failed"],
    ];
    fakeIdp(Object.fromEntries(cases.map(([path, doc]) => [`${path}/.well-known/openid-configuration`, doc])));
    for (const [path, , code] of cases) expect(failure(await discover(`${FAKE}${path}`)).code).toBe(code);
  });
});

describe("authorization code flow with PKCE", () => {
  it("asks for code, openid email profile, state, nonce and an S256 challenge of the verifier", async () => {
    const start = await beginOidc(config, metadata, CALLBACK);
    const url = new URL(start.url);
    expect(url.origin + url.pathname).toBe(metadata.authorization_endpoint);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: "code",
      client_id: config.clientId,
      redirect_uri: CALLBACK,
      scope: "openid email profile",
      state: start.state,
      nonce: start.nonce,
      code_challenge_method: "S256",
    });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(start.codeVerifier));
    expect(url.searchParams.get("code_challenge")).toBe(base64url.encode(new Uint8Array(digest)));
    for (const value of [start.state, start.nonce, start.codeVerifier]) expect(value).toMatch(/^[\w-]{43}$/);
    expect(new Set([start.state, start.nonce, start.codeVerifier]).size).toBe(3);
    expect(start.url).not.toContain(start.codeVerifier);
  });

  it("signs a user in end to end and returns the provider's identity", async () => {
    const { start, params } = await signIn("alice");
    expect(params.get("iss")).toBe(config.issuer);
    const identity = unwrap(await finishOidc(config, metadata, CALLBACK, params, start));
    expect(identity).toEqual({
      subject: "alice",
      email: "alice@sso.example",
      emailVerified: true,
      name: "Test alice",
    });
  });

  it("refuses a callback whose state is not the pending one, before redeeming the code", async () => {
    const { start, params } = await signIn("bob");
    const forged = new URLSearchParams(params);
    forged.set("state", `${start.state}x`);
    expect(failure(await finishOidc(config, metadata, CALLBACK, forged, start)).code).toBe("state_mismatch");
    forged.delete("state");
    expect(failure(await finishOidc(config, metadata, CALLBACK, forged, start)).code).toBe("state_mismatch");
    expect(unwrap(await finishOidc(config, metadata, CALLBACK, params, start)).subject).toBe("bob");
  });

  it("refuses a callback naming another issuer (RFC 9207 mix-up defence)", async () => {
    const { start, params } = await signIn("carol");
    const mixed = new URLSearchParams(params);
    mixed.set("iss", "https://evil.example");
    expect(failure(await finishOidc(config, metadata, CALLBACK, mixed, start)).code).toBe("issuer_mismatch");
    mixed.delete("iss");
    expect(failure(await finishOidc(config, metadata, CALLBACK, mixed, start)).code).toBe("issuer_mismatch");
  });

  it("refuses a replayed code, and says nothing secret about it", async () => {
    const { start, params } = await signIn("dave");
    unwrap(await finishOidc(config, metadata, CALLBACK, params, start));
    const replay = failure(await finishOidc(config, metadata, CALLBACK, params, start));
    expect(replay.code).toBe("token_exchange_failed");
    expect(replay.message).toContain("invalid_grant");
    for (const secret of [config.clientSecret, params.get("code") ?? "", start.codeVerifier, start.nonce]) {
      expect(replay.message).not.toContain(secret);
    }
  });

  it("refuses a code redeemed with another verifier (the provider enforces PKCE)", async () => {
    const { start, params } = await signIn("erin");
    const other = { ...start, codeVerifier: (await beginOidc(config, metadata, CALLBACK)).codeVerifier };
    expect(failure(await finishOidc(config, metadata, CALLBACK, params, other)).code).toBe("token_exchange_failed");
  });

  it("reports the provider's error when the user cancels at the provider", async () => {
    const start = await beginOidc(config, metadata, CALLBACK);
    const callback = await driveSignIn(start.url, { login: "frank", cancel: true });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const result = failure(await finishOidc(config, metadata, CALLBACK, callback.searchParams, start));
    expect(result).toEqual({ code: "provider_error", message: expect.stringContaining("access_denied") });
  });
});

describe("ID tokens from the real provider (Core 1.0 section 3.1.3.7)", () => {
  it("verifies a genuine ID token", async () => {
    const { idToken, nonce } = await realIdToken("grace");
    expect(unwrap(await verifyIdToken(config, metadata, idToken, nonce)).email).toBe("grace@sso.example");
  });

  it("refuses a genuine token for another nonce, client, issuer or time", async () => {
    const { idToken, nonce } = await realIdToken("heidi");
    const check = async (c: OidcConfig, m: OidcMetadata, n: string, nowMs?: number) =>
      failure(await verifyIdToken(c, m, idToken, n, nowMs));
    expect((await check(config, metadata, `${nonce}x`)).code).toBe("nonce_mismatch");
    expect(await check({ ...config, clientId: "another-client" }, metadata, nonce)).toEqual({
      code: "id_token_invalid",
      message: expect.stringContaining('"aud"'),
    });
    expect((await check(config, { ...metadata, issuer: "http://127.0.0.1:1" }, nonce)).message).toContain('"iss"');
    expect((await check(config, metadata, nonce, Date.now() + 2 * 3600_000)).message).toContain("expired");
  });

  it("refuses a genuine token minted without a nonce", async () => {
    const { idToken, nonce } = await realIdToken("ivan", { keepNonce: false });
    expect(failure(await verifyIdToken(config, metadata, idToken, nonce)).code).toBe("nonce_mismatch");
  });
});

describe("forged ID tokens", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: config.issuer,
    aud: config.clientId,
    sub: "mallory",
    nonce: "n-0S6_WzA2Mj",
    iat: now(),
    exp: now() + 300,
    ...extra,
  });
  let realKid: string;
  let stranger: CryptoKey;
  beforeAll(async () => {
    const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: JWK[] };
    realKid = jwks.keys[0]?.kid ?? "";
    ({ privateKey: stranger } = await generateKeyPair("RS256"));
  });
  const refused = async (token: string) => failure(await verifyIdToken(config, metadata, token, "n-0S6_WzA2Mj"));

  it("refuses a token signed by an unknown key under an unknown kid", async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "stranger" }).sign(stranger);
    expect((await refused(token)).message).toContain("does not publish");
  });

  it("refuses a token signed by an unknown key under the provider's kid", async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: realKid }).sign(stranger);
    expect((await refused(token)).message).toContain("signature is not valid");
  });

  it("refuses an unsecured token (alg none)", async () => {
    const token = new UnsecuredJWT(claims()).encode();
    expect(await refused(token)).toEqual({ code: "id_token_invalid", message: expect.stringContaining("algorithm") });
  });

  it("refuses HS256 keyed with the client secret (algorithm confusion)", async () => {
    const secret = new TextEncoder().encode(config.clientSecret);
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: realKid }).sign(secret);
    const result = await refused(token);
    expect(result).toEqual({ code: "id_token_invalid", message: expect.stringContaining("algorithm") });
    expect(result.message).not.toContain(config.clientSecret);
  });
});

describe("ID tokens signed by a trusted key with bad claims", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const fake: OidcMetadata = {
    issuer: FAKE,
    authorization_endpoint: `${FAKE}/authorize`,
    token_endpoint: `${FAKE}/token`,
    jwks_uri: `${FAKE}/jwks`,
    response_types_supported: ["code"],
  };
  let signingKey: CryptoKey;
  let jwks: { keys: JWK[] };
  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    signingKey = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "trusted", alg: "ES256", use: "sig" }] };
  });
  const verify = async (extra: Record<string, unknown>) => {
    fakeIdp({ "/jwks": jwks });
    const base = { iss: FAKE, aud: config.clientId, sub: "u-1", nonce: "n-1", iat: now(), exp: now() + 300 };
    const payload = Object.fromEntries(Object.entries({ ...base, ...extra }).filter(([, v]) => v !== undefined));
    const token = await new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "trusted" }).sign(signingKey);
    return verifyIdToken(config, fake, token, "n-1");
  };

  it("accepts a well-formed token (the control for the cases below)", async () => {
    expect(unwrap(await verify({ aud: [config.clientId, "api"], azp: config.clientId }))).toEqual({
      subject: "u-1",
      email: null,
      emailVerified: false,
      name: null,
    });
    expect(unwrap(await verify({ exp: now() - 10 })).subject).toBe("u-1");
  });

  it.each([
    ["several audiences and no azp", { aud: [config.clientId, "api"] }, "azp"],
    ["azp naming another client", { azp: "another-client" }, "azp"],
    ["no exp", { exp: undefined }, '"exp"'],
    ["exp more than a minute ago", { exp: now() - 61 }, "expired"],
    ["no iat", { iat: undefined }, '"iat"'],
    ["iat in the future", { iat: now() + 600, exp: now() + 900 }, "future"],
    ["an empty sub", { sub: "" }, "sub"],
  ])("refuses %s", async (_name, extra, reason) => {
    expect(failure(await verify(extra))).toEqual({
      code: "id_token_invalid",
      message: expect.stringContaining(reason),
    });
  });

  it("refuses a missing nonce, and an unverified email stays unverified", async () => {
    expect(failure(await verify({ nonce: undefined })).code).toBe("nonce_mismatch");
    const identity = unwrap(await verify({ email: "u@corp.example", email_verified: "true" }));
    expect(identity).toMatchObject({ email: "u@corp.example", emailVerified: false });
  });
});
