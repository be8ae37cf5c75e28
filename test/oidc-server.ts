// A real OpenID Provider for the SSO tests: panva's oidc-provider (v9, certified) on Node, on a
// loopback port, with its development login and consent forms. Started by test/global-setup.ts;
// the Worker's OIDC client (workers/auth/oidc.ts) talks to it over real HTTP, and
// test/auth/oidc-driver.ts plays the user's browser through its forms.
//
//   issuer      http://127.0.0.1:<port>
//   client      one confidential client, client_secret_basic, authorization_code, PKCE required
//   redirect    http://outlay.test/sso/callback
//   accounts    any login name, any password: { sub: login, email: "<login>@sso.example", ... }
//   ID tokens   RS256, signed with a key generated at start
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
// @ts-expect-error oidc-provider ships no type declarations; the part used here is typed below.
import { Provider } from "oidc-provider";

export const OIDC_TEST_REDIRECT_URI = "http://outlay.test/sso/callback";

export interface StartOidcServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
}

export interface RunningOidcServer {
  /** http://127.0.0.1:<port>, exactly as the discovery document states it. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

type Account = { accountId: string; claims(): Record<string, unknown> };

/** The slice of oidc-provider's configuration used here (see its docs/README.md). */
type ProviderConfiguration = {
  clients: Record<string, unknown>[];
  jwks: { keys: JWK[] };
  cookies: { keys: string[] };
  pkce: { required(): boolean };
  claims: Record<string, string[]>;
  conformIdTokenClaims: boolean;
  ttl: Record<string, number>;
  findAccount(ctx: unknown, id: string): Account;
  features: { devInteractions: { enabled: boolean } };
};

/** oidc-provider's Provider is a Koa application: callback() is its Node request listener. */
type ProviderConstructor = new (
  issuer: string,
  configuration: ProviderConfiguration,
) => { callback(): (req: IncomingMessage, res: ServerResponse) => unknown };

const OidcProvider = Provider as ProviderConstructor;

function account(login: string): Account {
  return {
    accountId: login,
    claims: () => ({ sub: login, email: `${login}@sso.example`, email_verified: true, name: `Test ${login}` }),
  };
}

export async function startOidcServer(options: StartOidcServerOptions = {}): Promise<RunningOidcServer> {
  // The issuer names the port, so the server listens first and gets its handler after.
  let handler: RequestListener | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const clientId = "outlay-test";
  const clientSecret = randomBytes(32).toString("base64url");
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey: JWK = { ...(await exportJWK(privateKey)), kid: "outlay-test-rs256", alg: "RS256", use: "sig" };

  const provider = new OidcProvider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [OIDC_TEST_REDIRECT_URI],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "RS256",
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    // By default v9 requires PKCE of public clients only; Outlay sends it always, so demand it.
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // By default, claims a userinfo call could return are left out of the ID token when an
    // access token is issued too; Outlay reads them from the ID token alone.
    conformIdTokenClaims: false,
    // Seconds; set so that the provider does not log a notice for each default it falls back to.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 3600 },
    findAccount: (_ctx, id) => account(id),
    features: { devInteractions: { enabled: true } },
  });
  handler = provider.callback();

  let closing: Promise<void> | undefined;
  return {
    issuer,
    clientId,
    clientSecret,
    // Idempotent: a second call returns the first call's promise.
    close: () =>
      (closing ??= new Promise<void>((done, fail) => {
        server.close((error) => (error === undefined ? done() : fail(error)));
        server.closeAllConnections();
      })),
  };
}
