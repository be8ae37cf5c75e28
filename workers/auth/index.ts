// The auth component's front door: accounts and memberships, passwords and sign-in throttling,
// sessions and their cookies, TOTP and recovery codes, invitation and reset links, SSO (OIDC),
// admin tokens, roles, the account audit trail and the nightly purge. The dashboard's pages
// (workers/dashboard/) and the operator API call these; nothing imports this folder's inner files.
export { createAccount, getUser, membershipsOf, normaliseEmail, type User } from "./accounts.ts";
export { createAdminToken } from "./admin-tokens.ts";
export { recordAccess } from "./access.ts";
export { auditAccount, auditInOrg, type AccountEvent } from "./audit.ts";
export { readDeviceCookie, writeDeviceCookie } from "./device.ts";
export { clearLinkCookie, readLinkCookie, writeLinkCookie } from "./link-cookie.ts";
export { INVITATION_TTL_MS, RESET_TTL_MS, linkHash, linkTenant, newLinkToken, type LinkKind } from "./links.ts";
export { beginOidc, discover, finishOidc, type OidcConfig, type OidcMetadata } from "./oidc.ts";
export { passwordProblem } from "./password-rules.ts";
export { hashPassword, verifyPassword } from "./password.ts";
export { runScheduled } from "./purge.ts";
export { qrSvgDataUri } from "./qr.ts";
export { newRecoveryCodes, normaliseRecoveryCode, recoveryCodeHash } from "./recovery-codes.ts";
export { ROLES, assignableRoles, can, isRole, type Permission, type Role } from "./roles.ts";
export {
  clearSessionCookie,
  findSession,
  listSessions,
  readSessionCookie,
  revokeSession,
  revokeUserSessions,
  rotateSession,
  writeSessionCookie,
  type Session,
} from "./sessions.ts";
export {
  checkInSession,
  checkPassword,
  safeNext,
  secondFactorFailed,
  secondFactorGate,
  secondFactorPassed,
  type SessionCheck,
} from "./sign-in.ts";
export { startSession } from "./start-session.ts";
export { accountSubject, allowSignUp, clearFailures, waitingAccounts } from "./throttle.ts";
export { checkTotp, newTotpSecret, totpUri } from "./totp.ts";
export { signedIn, signedInOrg, sourceOf, type Account, type WebEnv } from "./web-account.ts";
