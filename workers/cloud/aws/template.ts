// The CloudFormation template that creates the customer's read-only role
// (deploy/aws/outlay-cur-read-role.yaml, imported as text), with the organisation's ExternalId
// and Outlay's account filled in as the parameters' defaults for the dashboard's download.
import TEMPLATE from "../../../deploy/aws/outlay-cur-read-role.yaml";

const ACCOUNT_ID = /^\d{12}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const ACCOUNT_DEFAULT = '    Default: "000000000000"';
const EXTERNAL_ID_DEFAULT = '    Default: "replace-with-your-outlay-external-id"';

/** The template's text as shipped in the repository (placeholders as defaults). */
export const CUR_READ_ROLE_TEMPLATE: string = TEMPLATE;

/** The template with this organisation's ExternalId and Outlay's account id as defaults. */
export function renderTemplate(externalId: string, outlayAccountId: string): string {
  // Both come from Outlay (generated id, operator setting), never from the customer: a bad one is a bug.
  if (!EXTERNAL_ID.test(externalId))
    throw new TypeError("renderTemplate: the ExternalId has characters AWS does not allow");
  if (!ACCOUNT_ID.test(outlayAccountId)) throw new TypeError("renderTemplate: an AWS account id is 12 digits");
  if (TEMPLATE.split(ACCOUNT_DEFAULT).length !== 2 || TEMPLATE.split(EXTERNAL_ID_DEFAULT).length !== 2) {
    throw new Error("renderTemplate: the template's placeholder defaults have changed");
  }
  return TEMPLATE.replace(ACCOUNT_DEFAULT, `    Default: "${outlayAccountId}"`).replace(
    EXTERNAL_ID_DEFAULT,
    `    Default: "${externalId}"`,
  );
}
