// A local STS that speaks the Query API's wire format for AssumeRole
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): a form-encoded
// POST, its SigV4 signature checked with AWS's own signer for Outlay's test key, answered with
// `AssumeRoleResponse` XML or `ErrorResponse` XML as STS answers (SignatureDoesNotMatch 403,
// AccessDenied 403 for an unknown role or a wrong ExternalId, ValidationError 400).
// GET /_control/asked/<RoleSessionName> tells a test what each signed AssumeRole under that
// session name asked (role, duration), refused or not. PUT /_control/roles with a StandInRole
// (JSON) creates or replaces a role, as a customer does from the template with their own
// ExternalId; DELETE /_control/roles/<arn> deletes it. GET /_control/sessions lists the sessions
// issued (keys and tokens: the no-secrets test looks for them in what Outlay kept).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type AssumeRoleAsked, OUTLAY_ACCOUNT_ID, OUTLAY_KEY, REGION, ROLES, type StandInRole } from "./fixtures.ts";
import type { Sessions } from "./sessions.ts";
import { checkSignature, readBody, xmlEscape } from "./sigv4.ts";

const NS = "https://sts.amazonaws.com/doc/2011-06-15/";
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

function answer(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": randomUUID() });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  const type = status >= 500 ? "Receiver" : "Sender";
  answer(
    res,
    status,
    `<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n    <Message>${xmlEscape(message)}</Message>\n  </Error>\n  <RequestId>${randomUUID()}</RequestId>\n</ErrorResponse>\n`,
  );
}

export function startSts(sessions: Sessions): Promise<{ url: string; close(): Promise<void> }> {
  const roles = new Map<string, StandInRole>(Object.values(ROLES).map((r) => [r.arn, r]));
  const asked = new Map<string, AssumeRoleAsked[]>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.url === "/_control/sessions" && req.method === "GET") {
      const issued = sessions.all().map(({ accessKeyId, secretAccessKey, sessionToken }) => ({
        accessKeyId,
        secretAccessKey,
        sessionToken,
      }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(issued));
      return;
    }
    if (req.url === "/_control/roles" && req.method === "PUT") {
      const role = JSON.parse((await readBody(req)).toString("utf8")) as StandInRole;
      roles.set(role.arn, role);
      res.writeHead(204).end();
      return;
    }
    if (req.url?.startsWith("/_control/roles/") && req.method === "DELETE") {
      roles.delete(decodeURIComponent(req.url.slice("/_control/roles/".length)));
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && req.url?.startsWith("/_control/asked/")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(asked.get(decodeURIComponent(req.url.slice("/_control/asked/".length))) ?? []));
      return;
    }
    const body = await readBody(req);
    if (req.method !== "POST") return error(res, 405, "InvalidAction", "Could not find operation for this request");
    const checked = await checkSignature(
      { method: req.method, url: req.url ?? "/", headers: req.headers, body },
      "sts",
      REGION,
      (id) => (id === OUTLAY_KEY.accessKeyId ? { secretAccessKey: OUTLAY_KEY.secretAccessKey } : null),
      "InvalidClientTokenId",
    );
    if (!checked.ok) return error(res, checked.status, checked.code, checked.message);
    const form = new URLSearchParams(body.toString("utf8"));
    if (form.get("Action") !== "AssumeRole" || form.get("Version") !== "2011-06-15") {
      return error(
        res,
        400,
        "InvalidAction",
        `Could not find operation ${form.get("Action") ?? ""} for version ${form.get("Version") ?? ""}`,
      );
    }
    const roleArn = form.get("RoleArn") ?? "";
    const sessionName = form.get("RoleSessionName") ?? "";
    const duration = Number(form.get("DurationSeconds") ?? "3600");
    asked.set(sessionName, [...(asked.get(sessionName) ?? []), { roleArn, durationSeconds: duration }]);
    if (!SESSION_NAME.test(sessionName)) {
      return error(
        res,
        400,
        "ValidationError",
        "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint",
      );
    }
    if (!Number.isInteger(duration) || duration < 900) {
      return error(
        res,
        400,
        "ValidationError",
        "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
      );
    }
    if (duration > 3600) {
      return error(
        res,
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
      );
    }
    const role = roles.get(roleArn);
    if (role === undefined || form.get("ExternalId") !== role.externalId) {
      return error(
        res,
        403,
        "AccessDenied",
        `User: arn:aws:iam::${OUTLAY_ACCOUNT_ID}:user/outlay is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }
    const session = sessions.issue(role, duration);
    const roleName = role.arn.split("/").pop() ?? "";
    const account = role.arn.split(":")[4] ?? "";
    answer(
      res,
      200,
      `<AssumeRoleResponse xmlns="${NS}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:${sessionName}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${session.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${xmlEscape(session.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${xmlEscape(session.sessionToken)}</SessionToken>
      <Expiration>${new Date(session.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`,
    );
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, "InternalFailure", e instanceof Error ? e.message : "stand-in failure");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
