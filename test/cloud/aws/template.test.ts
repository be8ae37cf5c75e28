// The CloudFormation template for the customer's role (deploy/aws/outlay-cur-read-role.yaml),
// read as the dashboard serves it: plain YAML, only read actions, only Outlay's account, only
// with the ExternalId, sessions of at most an hour.
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CUR_READ_ROLE_TEMPLATE, renderTemplate } from "../../../workers/cloud/aws/index.ts";

/** Every read action the role may have, and nothing else. */
const READ_ACTIONS = new Set([
  "s3:GetObject",
  "s3:ListBucket",
  "s3:GetBucketLocation",
  "bcm-data-exports:GetExport",
  "bcm-data-exports:ListExports",
  "cur:DescribeReportDefinitions",
]);

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Template = {
  Parameters: Record<string, { Default?: string }>;
  Resources: Record<
    string,
    {
      Type: string;
      Properties: {
        MaxSessionDuration?: number;
        AssumeRolePolicyDocument: { Statement: Statement[] };
        Policies: { PolicyDocument: { Statement: Statement[] } }[];
      };
    }
  >;
  Outputs: Record<string, { Value: unknown }>;
};

function roleOf(text: string) {
  const template = parse(text) as Template;
  const roles = Object.values(template.Resources).filter((r) => r.Type === "AWS::IAM::Role");
  const resources = Object.values(template.Resources).map((r) => r.Type);
  return { template, roles, resources };
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

describe("the read-only role template", () => {
  const { template, roles, resources } = roleOf(CUR_READ_ROLE_TEMPLATE);
  const role = roles[0]?.Properties;
  const statements = role?.Policies.flatMap((p) => p.PolicyDocument.Statement) ?? [];

  it("is plain YAML with one resource, the role, and outputs its ARN", () => {
    expect(CUR_READ_ROLE_TEMPLATE).not.toMatch(/!(Sub|Ref|GetAtt|Join)\b/);
    expect(resources).toEqual(["AWS::IAM::Role"]);
    expect(Object.keys(template.Parameters)).toEqual(["OutlayAccountId", "ExternalId", "BucketName", "Prefix"]);
    expect(template.Outputs.RoleArn?.Value).toEqual({ "Fn::GetAtt": ["OutlayCurReadRole", "Arn"] });
    expect(role?.MaxSessionDuration).toBe(3600);
  });

  it("allows only read actions, never a wildcard action, never Deny tricks", () => {
    const all = statements.flatMap(actions);
    expect([
      all.filter((a) => !READ_ACTIONS.has(a)),
      all.filter((a) => a.includes("*")),
      statements.map((s) => s.Effect),
    ]).toEqual([[], [], statements.map(() => "Allow")]);
  });

  it("reads objects only under the prefix and lists only the prefix", () => {
    const byAction = (action: string) => statements.find((s) => actions(s).includes(action));
    expect(byAction("s3:GetObject")?.Resource).toEqual({ "Fn::Sub": "arn:aws:s3:::${BucketName}/${Prefix}*" });
    expect(byAction("s3:ListBucket")).toMatchObject({
      Resource: { "Fn::Sub": "arn:aws:s3:::${BucketName}" },
      Condition: { StringLike: { "s3:prefix": [{ "Fn::Sub": "${Prefix}*" }] } },
    });
  });

  it("trusts only Outlay's account, and only with the ExternalId", () => {
    const trust = role?.AssumeRolePolicyDocument.Statement ?? [];
    expect(trust).toEqual([
      {
        Sid: "OutlayOnlyWithExternalId",
        Effect: "Allow",
        Principal: { AWS: { "Fn::Sub": "arn:aws:iam::${OutlayAccountId}:root" } },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": { Ref: "ExternalId" } } },
      },
    ]);
  });
});

describe("renderTemplate", () => {
  it("fills in the organisation's ExternalId and Outlay's account as defaults, nothing else", () => {
    const text = renderTemplate("outlay-ext-7f3a9c2e5d1b", "999988887777");
    const { template } = roleOf(text);
    expect([template.Parameters.ExternalId?.Default, template.Parameters.OutlayAccountId?.Default]).toEqual([
      "outlay-ext-7f3a9c2e5d1b",
      "999988887777",
    ]);
    const changed = text.split("\n").filter((line, i) => line !== CUR_READ_ROLE_TEMPLATE.split("\n")[i]);
    expect(changed).toEqual(['    Default: "999988887777"', '    Default: "outlay-ext-7f3a9c2e5d1b"']);
  });

  it("refuses values that would break out of the YAML string", () => {
    expect(() => renderTemplate('x"\nEvil: 1', "999988887777")).toThrow(TypeError);
    expect(() => renderTemplate("outlay-ext-1", "9999")).toThrow(TypeError);
  });
});
