// Organisation settings, for the management API and the dashboard alike: the budgets' time zone,
// the dashboard's locale, pass-through keys and the admission mode. They live in the tenant's
// ledger, which the gateway reads on admission, so a change applies to the very next call (and a
// new time zone carries the current windows' spend over: settings.updated).
import type { AuditActor } from "../../shared/audit.ts";
import { AppError } from "../../shared/errors.ts";
import { isLocale } from "../../shared/locale.ts";
import { isTimeZone } from "../../shared/windows.ts";
import { ledgerFor, type TenantSettings } from "../ledger/index.ts";

/** Every problem of a settings change, each naming its field (time_zone, locale). */
export function settingsProblems(change: Partial<TenantSettings>): AppError[] {
  const problems: AppError[] = [];
  if (change.timeZone !== undefined && !isTimeZone(change.timeZone)) {
    problems.push(
      new AppError(
        "bad_request",
        "time_zone: must be an IANA time zone name such as Europe/Berlin or UTC",
        "time_zone",
      ),
    );
  }
  if (change.locale !== undefined && !isLocale(change.locale)) {
    problems.push(new AppError("bad_request", "locale: must be a locale such as en-US, en-GB or de-DE", "locale"));
  }
  return problems;
}

/** Applies `change` through the tenant's ledger (audited with `actor`), or its first problem. */
export async function changeSettings(
  env: Env,
  request: { tenantId: string; change: Partial<TenantSettings>; actor: AuditActor },
): Promise<TenantSettings | AppError> {
  const [problem] = settingsProblems(request.change);
  if (problem) return problem;
  return ledgerFor(env, request.tenantId).setSettings(request);
}
