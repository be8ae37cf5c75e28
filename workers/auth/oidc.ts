// OpenID Connect client for single sign-on (issue #4): the authorization code flow with PKCE,
// against any provider an organisation configures (Auth0, Okta, Entra, Google, Clerk, ...).
//
//   OpenID Connect Discovery 1.0  sections 3, 4 (metadata, issuer equality)
//   OpenID Connect Core 1.0       3.1.2 (authorization request), 3.1.3.7 (ID token validation)
//   RFC 7636 (PKCE, S256) · RFC 6749 2.3.1 (client authentication) · RFC 9207 (iss parameter)
//
//   discover(issuer)                 → metadata, validated, cached per isolate for an hour
//   beginOidc(config, metadata, cb)  → { url, state, nonce, codeVerifier }: send the user to url,
//                                      keep the other three server-side until the callback
//   finishOidc(…, params, pending)   → state → iss → error → code at the token endpoint
//                                      → verifyIdToken → { subject, email, emailVerified, name }
//
// Only fetch, WebCrypto and jose. Expected failures are values with a stable code; their messages
// are safe to show a user and never carry the client secret, the code, a token or the verifier.
import { hostProblem } from "../../shared/upstream-url.ts";
import { base64url, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";

export type OidcConfig = { issuer: string; clientId: string; clientSecret: string };

export type OidcErrorCode =
  | "discovery_failed"
  | "issuer_mismatch"
  | "insecure_endpoint"
  | "state_mismatch"
  | "provider_error"
  | "token_exchange_failed"
  | "id_token_invalid"
  | "nonce_mismatch";

export type OidcResult<T> = { ok: true; value: T } | { ok: false; code: OidcErrorCode; message: string };

export type DiscoverOptions = {
  /** Accept http endpoints on loopback hosts (127.0.0.1, localhost, ::1): local development and tests. */
  allowLoopbackHttp?: boolean;
};

/** What the flow needs of a discovery document; other members are dropped. */
const metadataSchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  jwks_uri: z.string(),
  userinfo_endpoint: z.string().optional(),
  response_types_supported: z.array(z.string()),
  code_challenge_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

export type OidcMetadata = z.infer<typeof metadataSchema>;

/** Secrets of one sign-in attempt: keep them server-side (e.g. in the session) until the callback. */
export type OidcPending = { state: string; nonce: string; codeVerifier: string };
export type OidcStart = OidcPending & { url: string };

export type OidcIdentity = { subject: string; email: string | null; emailVerified: boolean; name: string | null };

export const OIDC_SCOPE = "openid email profile";
/** Never `none`, never HS*: an HMAC "signed" with the client secret proves nothing about the provider. */
export const ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"];
const CLOCK_TOLERANCE_S = 30;
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const FETCH_TIMEOUT_MS = 5_000;
/** Per-isolate caches hold at most this many issuers (or key sets); the oldest is dropped first. */
const MAX_CACHED = 256;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

const discovered = new Map<string, { metadata: OidcMetadata; expiresAt: number }>();
const keySets = new Map<string, JWTVerifyGetKey>();

function fail(code: OidcErrorCode, message: string): { ok: false; code: OidcErrorCode; message: string } {
  return { ok: false, code, message };
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  cache.set(key, value);
  for (const oldest of cache.keys()) {
    if (cache.size <= MAX_CACHED) break;
    cache.delete(oldest);
  }
}

function isSecureUrl(value: string, allowLoopbackHttp: boolean): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username !== "" || url.password !== "" || url.hash !== "") return false;
  // The same host rules as a provider's base URL: no private, link-local or metadata address in
  // any spelling, so an organisation's SSO settings cannot point Outlay's requests (which carry
  // its client secret to the token endpoint) at an internal service.
  if (hostProblem(url.hostname, { allowLoopback: allowLoopbackHttp }) !== null) return false;
  if (url.protocol === "https:") return true;
  return allowLoopbackHttp && url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** An OAuth error code (RFC 6749 section 5.2) fit to repeat to the user, or a placeholder. */
function providerErrorCode(value: unknown): string {
  return typeof value === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : "unknown error";
}

async function fetchJson(url: string, init: RequestInit): Promise<{ status: number; body: unknown } | null> {
  try {
    const response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  } catch {
    // Unreachable, reset or timed out: the caller reports it without the details.
    return null;
  }
}

function checkMetadata(issuer: string, body: unknown, allowLoopbackHttp: boolean): OidcResult<OidcMetadata> {
  const parsed = metadataSchema.safeParse(body);
  if (!parsed.success) return fail("discovery_failed", "The identity provider's discovery document is incomplete.");
  const metadata = parsed.data;
  if (metadata.issuer !== issuer) {
    const named = metadata.issuer.slice(0, 200);
    return fail("issuer_mismatch", `The identity provider calls itself "${named}", not the configured issuer.`);
  }
  return checkEndpoints(metadata, allowLoopbackHttp);
}

function checkEndpoints(metadata: OidcMetadata, allowLoopbackHttp: boolean): OidcResult<OidcMetadata> {
  const endpoints = ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"] as const;
  for (const name of endpoints) {
    const url = metadata[name];
    if (url !== undefined && !isSecureUrl(url, allowLoopbackHttp))
      return fail("insecure_endpoint", `The identity provider's ${name} is not an https URL.`);
  }
  if (!metadata.response_types_supported.includes("code"))
    return fail("discovery_failed", "The identity provider does not offer the authorization code flow.");
  const methods = metadata.code_challenge_methods_supported;
  if (methods !== undefined && !methods.includes("S256"))
    return fail("discovery_failed", "The identity provider does not offer PKCE with S256.");
  if (clientAuthMethod(metadata) === null)
    return fail(
      "discovery_failed",
      "The identity provider accepts neither client_secret_basic nor client_secret_post.",
    );
  return { ok: true, value: metadata };
}

/** Discovery (OpenID Connect Discovery 1.0 section 4): fetch, validate and cache the provider's metadata. */
export async function discover(issuer: string, options: DiscoverOptions = {}): Promise<OidcResult<OidcMetadata>> {
  const allowLoopbackHttp = options.allowLoopbackHttp === true;
  if (!isSecureUrl(issuer, allowLoopbackHttp) || new URL(issuer).search !== "")
    return fail("insecure_endpoint", "The issuer must be an https URL without a query or fragment.");
  const cached = discovered.get(issuer);
  // Checked again on a hit: the entry may have been cached under a laxer allowLoopbackHttp.
  if (cached && cached.expiresAt > Date.now()) return checkEndpoints(cached.metadata, allowLoopbackHttp);
  // Section 4.1: the issuer with any trailing "/" removed, then /.well-known/openid-configuration.
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const answer = await fetchJson(url, { headers: { accept: "application/json" } });
  if (answer === null) return fail("discovery_failed", "The identity provider could not be reached.");
  if (answer.status !== 200)
    return fail("discovery_failed", `The identity provider's discovery document answered HTTP ${answer.status}.`);
  const checked = checkMetadata(issuer, answer.body, allowLoopbackHttp);
  if (checked.ok) remember(discovered, issuer, { metadata: checked.value, expiresAt: Date.now() + DISCOVERY_TTL_MS });
  return checked;
}

function randomToken(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}

/** RFC 7636 section 4.2: code_challenge = BASE64URL(SHA-256(ASCII(code_verifier))). */
async function codeChallenge(codeVerifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(codeVerifier));
  return base64url.encode(new Uint8Array(digest));
}

/** The authorization request (Core 3.1.2.1) with PKCE S256; state, nonce and verifier are 32 random bytes each. */
export async function beginOidc(config: OidcConfig, metadata: OidcMetadata, redirectUri: string): Promise<OidcStart> {
  const pending: OidcPending = { state: randomToken(), nonce: randomToken(), codeVerifier: randomToken() };
  const url = new URL(metadata.authorization_endpoint);
  const query = {
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope: OIDC_SCOPE,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await codeChallenge(pending.codeVerifier),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return { ...pending, url: url.href };
}

/** Discovery's default when the list is absent is client_secret_basic. */
function clientAuthMethod(metadata: OidcMetadata): "client_secret_basic" | "client_secret_post" | null {
  const methods = metadata.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  if (methods.includes("client_secret_basic")) return "client_secret_basic";
  return methods.includes("client_secret_post") ? "client_secret_post" : null;
}

/** application/x-www-form-urlencoded, as RFC 6749 section 2.3.1 asks of the Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

const tokenResponseSchema = z.object({ id_token: z.string().min(1) });

/** The token request (Core 3.1.3.1): the code and the PKCE verifier for the ID token. */
async function exchangeCode(
  config: OidcConfig,
  metadata: OidcMetadata,
  redirectUri: string,
  code: string,
  codeVerifier: string,
): Promise<OidcResult<string>> {
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    code_verifier: codeVerifier,
  });
  const headers = new Headers({ accept: "application/json", "content-type": "application/x-www-form-urlencoded" });
  if (clientAuthMethod(metadata) === "client_secret_basic") {
    headers.set("authorization", `Basic ${btoa(`${formEncode(config.clientId)}:${formEncode(config.clientSecret)}`)}`);
  } else {
    body.set("client_id", config.clientId);
    body.set("client_secret", config.clientSecret);
  }
  const answer = await fetchJson(metadata.token_endpoint, { method: "POST", headers, body });
  if (answer === null)
    return fail("token_exchange_failed", "The identity provider's token endpoint could not be reached.");
  if (answer.status !== 200) {
    const error =
      typeof answer.body === "object" && answer.body !== null ? Reflect.get(answer.body, "error") : undefined;
    return fail("token_exchange_failed", `The identity provider refused the sign-in (${providerErrorCode(error)}).`);
  }
  const parsed = tokenResponseSchema.safeParse(answer.body);
  if (!parsed.success) return fail("token_exchange_failed", "The identity provider's token response has no ID token.");
  return { ok: true, value: parsed.data.id_token };
}

/** The callback (Core 3.1.2.5 to 3.1.3.7): checks the response, redeems the code, verifies the ID token. */
export async function finishOidc(
  config: OidcConfig,
  metadata: OidcMetadata,
  redirectUri: string,
  params: URLSearchParams,
  pending: OidcPending,
  nowMs = Date.now(),
): Promise<OidcResult<OidcIdentity>> {
  const states = params.getAll("state");
  if (pending.state === "" || states.length !== 1 || states[0] !== pending.state)
    return fail("state_mismatch", "This sign-in was not started here or has expired. Please start again.");
  // RFC 9207 section 2.4: the iss parameter, when sent (or promised), names the expected issuer.
  const iss = params.get("iss");
  if (iss === null ? metadata.authorization_response_iss_parameter_supported === true : iss !== metadata.issuer)
    return fail("issuer_mismatch", "The sign-in response did not come from the configured identity provider.");
  const error = params.get("error");
  if (error !== null)
    return fail("provider_error", `The identity provider refused the sign-in (${providerErrorCode(error)}).`);
  const codes = params.getAll("code");
  const code = codes[0];
  if (codes.length !== 1 || code === undefined || code === "")
    return fail("provider_error", "The identity provider sent no sign-in code.");
  const exchanged = await exchangeCode(config, metadata, redirectUri, code, pending.codeVerifier);
  if (!exchanged.ok) return exchanged;
  return verifyIdToken(config, metadata, exchanged.value, pending.nonce, nowMs);
}

function keySet(jwksUri: string): JWTVerifyGetKey {
  let keys = keySets.get(jwksUri);
  if (keys === undefined) {
    keys = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: FETCH_TIMEOUT_MS });
    remember(keySets, jwksUri, keys);
  }
  return keys;
}

const idTokenClaimsSchema = z.object({
  sub: z.string().min(1),
  iat: z.number(),
  aud: z.union([z.string(), z.array(z.string())]),
  azp: z.string().optional(),
  nonce: z.string().optional(),
});

function invalid(reason: string): { ok: false; code: OidcErrorCode; message: string } {
  return fail("id_token_invalid", `The identity provider's ID token was refused: ${reason}.`);
}

/** jose's failures, in words that name the check but not the token. Other errors are bugs. */
function joseFailure(error: unknown): { ok: false; code: OidcErrorCode; message: string } {
  if (error instanceof errors.JWTExpired) return invalid("it has expired");
  if (error instanceof errors.JWTClaimValidationFailed) return invalid(`its "${error.claim}" claim is not valid`);
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid("it is not signed with an accepted algorithm");
  if (error instanceof errors.JWKSNoMatchingKey) return invalid("it is signed by a key the provider does not publish");
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid("its signature is not valid");
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof TypeError)
    return invalid("the provider's signing keys could not be loaded");
  if (error instanceof errors.JOSEError) return invalid("it is not a well-formed signed token");
  throw error;
}

/**
 * ID token validation (Core 3.1.3.7): signature by a key from the provider's jwks_uri with an
 * allowed algorithm, iss, aud (with azp when there are several audiences), exp, iat, nonce, sub.
 * `metadata` must come from discover(), which vetted jwks_uri.
 */
export async function verifyIdToken(
  config: OidcConfig,
  metadata: OidcMetadata,
  idToken: string,
  nonce: string,
  nowMs = Date.now(),
): Promise<OidcResult<OidcIdentity>> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(idToken, keySet(metadata.jwks_uri), {
      algorithms: ID_TOKEN_ALGORITHMS,
      issuer: metadata.issuer,
      audience: config.clientId,
      requiredClaims: ["exp", "iat", "sub"],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowMs),
    }));
  } catch (error) {
    return joseFailure(error);
  }
  const parsed = idTokenClaimsSchema.safeParse(payload);
  if (!parsed.success) return invalid("its sub, iat or aud claim is malformed");
  const claims = parsed.data;
  if (nonce === "" || claims.nonce !== nonce)
    return fail("nonce_mismatch", "The sign-in response does not belong to this sign-in. Please start again.");
  if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp === undefined)
    return invalid("it has several audiences and no azp claim");
  if (claims.azp !== undefined && claims.azp !== config.clientId) return invalid('its "azp" claim is not valid');
  if (claims.iat > nowMs / 1000 + CLOCK_TOLERANCE_S) return invalid("it was issued in the future");
  const email = typeof payload.email === "string" && payload.email !== "" ? payload.email : null;
  const name = typeof payload.name === "string" && payload.name !== "" ? payload.name : null;
  return {
    ok: true,
    value: { subject: claims.sub, email, emailVerified: email !== null && payload.email_verified === true, name },
  };
}
