// /cloud/aws: the AWS connector (docs/cloud.md, "The AWS connector") — its state in words, the
// last test's or run's steps, the organisation's ExternalId and the template to download, the
// role/bucket/prefix/region form, and Test / Import now / Disconnect for those who may change it.
import { CsrfField, Field, Notice, PostButton } from "../components/form.tsx";
import type { PageNotice } from "./cloud.tsx";

export type ConnectorStep = { ok: boolean; message: string };

export type ConnectorView = {
  csrf: string;
  mayWrite: boolean;
  /** null: this deployment has no connector */
  outlayAccountId: string | null;
  externalId: string;
  state: "unconfigured" | "unverified" | "connected" | "failing" | "cut";
  roleArn: string;
  bucket: string;
  prefix: string;
  region: string;
  checkedAt: string | null;
  syncedAt: string | null;
  steps: ConnectorStep[];
  /** a field the last save refused, and why */
  fieldError: { field: string; message: string } | null;
};

const STATES: Record<ConnectorView["state"], { label: string; badge: string; text: string }> = {
  unconfigured: { label: "Not set up", badge: "badge", text: "Create the role from the template, then save it below." },
  unverified: { label: "Saved, not tested", badge: "badge warn", text: "Test the connection to check the role." },
  connected: {
    label: "Connected",
    badge: "badge ok",
    text: "Outlay reads new and changed billing periods every day at about 04:17 UTC.",
  },
  failing: {
    label: "Failing",
    badge: "badge warn",
    text: "The last attempt failed for a reason that may pass (AWS busy or unreachable); the next daily run tries again.",
  },
  cut: {
    label: "Cut off",
    badge: "badge danger",
    text: "AWS refused access. Outlay does not try again until you fix the role and test or save the connection.",
  },
};

export function ConnectorPage({ v, notice }: { v: ConnectorView; notice?: PageNotice }) {
  const state = STATES[v.state];
  const error = (field: string) => (v.fieldError?.field === field ? v.fieldError.message : null);
  return (
    <>
      <h1>AWS connector</h1>
      <p class="lead">
        Outlay reads your AWS Cost and Usage Report (CUR 2.0) from your own bucket through a read-only role, so AI spend
        that never crosses the proxy is counted too. <a href="/cloud">Back to Cloud AI spend</a>
      </p>
      {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
      {v.outlayAccountId === null ? (
        <Notice kind="warn">
          This Outlay deployment has no AWS connector (its operator has not set Outlay's AWS account). Bills can still
          be uploaded on the Cloud AI spend page.
        </Notice>
      ) : (
        <>
          <section class="card" aria-labelledby="state-h">
            <h2 id="state-h">
              State: <span class={state.badge}>{state.label}</span>
            </h2>
            <p>{state.text}</p>
            {v.checkedAt && <p class="hint">Last checked {v.checkedAt}.</p>}
            {v.syncedAt && <p class="hint">Last imported new periods {v.syncedAt}.</p>}
            {v.steps.length > 0 && (
              <ol class="steps">
                {v.steps.map((s) => (
                  <li>
                    <span class={s.ok ? "badge ok" : "badge danger"}>{s.ok ? "ok" : "failed"}</span> {s.message}
                  </li>
                ))}
              </ol>
            )}
            {v.mayWrite && v.state !== "unconfigured" && (
              <div class="actions">
                <PostButton action="/cloud/aws/test" csrf={v.csrf} label="Test connection" />
                <PostButton action="/cloud/aws/sync" csrf={v.csrf} label="Import new periods now" />
                <PostButton action="/cloud/aws/delete" csrf={v.csrf} label="Disconnect" kind="danger" />
              </div>
            )}
          </section>
          <section class="card" aria-labelledby="setup-h">
            <h2 id="setup-h">Set up</h2>
            <ol>
              <li>
                <a href="/cloud/aws/template" download>
                  Download the CloudFormation template
                </a>{" "}
                and deploy it in the account that holds your CUR 2.0 export, giving the export's bucket and prefix. It
                creates a role that only Outlay's account (<code>{v.outlayAccountId}</code>) may assume, only with your
                organisation's ExternalId <code>{v.externalId}</code>, and that can only read the export.
              </li>
              <li>Enter the stack's RoleArn output, the bucket, the prefix and the bucket's region below.</li>
              <li>Test the connection.</li>
            </ol>
            {v.mayWrite ? (
              <form method="post" action="/cloud/aws">
                <CsrfField token={v.csrf} />
                <Field
                  name="role_arn"
                  label="Role ARN"
                  value={v.roleArn}
                  error={error("role_arn")}
                  hint="arn:aws:iam::<account>:role/<name>"
                />
                <Field name="bucket" label="Bucket" value={v.bucket} error={error("bucket")} />
                <Field
                  name="prefix"
                  label="Prefix"
                  value={v.prefix}
                  error={error("prefix")}
                  required={false}
                  hint="the export's S3 path prefix, without a leading /"
                />
                <Field
                  name="region"
                  label="Region"
                  value={v.region}
                  error={error("region")}
                  hint="the bucket's region, e.g. us-east-1"
                />
                <button type="submit">Save</button>
              </form>
            ) : (
              <p class="hint">Only owners and admins can change the connection.</p>
            )}
          </section>
        </>
      )}
    </>
  );
}
