// Policies: what a key may call. Every policy that applies to the key (tenant-wide ones and the
// key's own) must allow the call: allow lists intersect, deny lists add up, the lowest cap wins.
import ipaddr from "ipaddr.js";
import { anyGlob } from "../../shared/glob.ts";
import type { CallFacts, Refused, RuleRecord } from "./types.ts";

export type PolicyVerdict = { ok: true; injectMaxOutputTokens: number | null } | Refused;

function deny(policy: RuleRecord<"policy">, message: string): Refused {
  return { ok: false, code: "policy_denied", ruleId: policy.id, message: `${message} (policy "${policy.spec.name}").` };
}

function parseRange(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (entry.includes("/")) return ipaddr.parseCIDR(entry);
  const address = ipaddr.process(entry);
  return [address, address.kind() === "ipv4" ? 32 : 128];
}

/** True when `source` is one of the addresses or inside one of the CIDR ranges (validated on save). */
export function sourceAllowed(allowed: readonly string[], source: string | null): boolean {
  if (!source || !ipaddr.isValid(source)) return false;
  const address = ipaddr.process(source);
  return allowed.some((entry) => {
    const [range, bits] = parseRange(entry);
    return address.kind() === range.kind() && address.match(range, bits);
  });
}

/** Whether an allowed-sources entry is an IP address or a CIDR range, written plainly: IPv4 as
 * four decimal parts (not the inet_aton forms "010.0.0.1", "0xa.0.0.1", "10.1"), IPv6 without
 * a zone ("%eth0"). */
export function isSourceEntry(entry: string): boolean {
  if (entry.includes("%")) return false;
  if (entry.includes("/")) return ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) || ipaddr.IPv6.isValidCIDR(entry);
  return ipaddr.IPv4.isValidFourPartDecimal(entry) || ipaddr.IPv6.isValid(entry);
}

export function checkPolicies(
  policies: readonly RuleRecord<"policy">[],
  provider: string,
  call: CallFacts,
  dimensions: Record<string, string>,
): PolicyVerdict {
  let cap: number | null = null;
  let fallback: number | null = null;
  for (const policy of policies) {
    const p = policy.spec;
    if (p.allowedSources && !sourceAllowed(p.allowedSources, call.source)) {
      return deny(policy, `Requests from ${call.source ?? "an unknown address"} are not allowed for this key`);
    }
    if ((p.allowProviders && !anyGlob(p.allowProviders, provider)) || anyGlob(p.denyProviders, provider)) {
      return deny(policy, `Provider "${provider}" is not allowed`);
    }
    if (!call.metered) continue;
    if ((p.allowModels && !anyGlob(p.allowModels, call.model)) || anyGlob(p.denyModels, call.model)) {
      return deny(policy, `Model "${call.model}" is not allowed`);
    }
    for (const name of p.requiredDimensions) {
      if (dimensions[name] === undefined) {
        return deny(policy, `Calls must carry the dimension "${name}" (header x-outlay-dimension-${name})`);
      }
    }
    if (p.maxTokensCap !== null) {
      if (call.maxOutputTokens !== null && call.maxOutputTokens > p.maxTokensCap) {
        return deny(policy, `The output limit ${call.maxOutputTokens} is above the cap of ${p.maxTokensCap} tokens`);
      }
      cap = cap === null ? p.maxTokensCap : Math.min(cap, p.maxTokensCap);
    }
    if (p.defaultMaxTokens !== null)
      fallback = fallback === null ? p.defaultMaxTokens : Math.min(fallback, p.defaultMaxTokens);
  }
  if (call.maxOutputTokens !== null || (cap === null && fallback === null))
    return { ok: true, injectMaxOutputTokens: null };
  const inject = Math.min(fallback ?? Number.MAX_SAFE_INTEGER, cap ?? Number.MAX_SAFE_INTEGER);
  return { ok: true, injectMaxOutputTokens: inject };
}
