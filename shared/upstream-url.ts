// Upstream base URLs (a tenant's provider override): the one check the management API and the
// dashboard apply before a base URL is stored (docs/security.md "Upstream base URLs").
//
// The host is decided on after WHATWG URL normalisation (so `0x7f000001`, `2130706433`, `127.1`,
// `0177.0.0.1` and `%31%30.0.0.1` are the addresses they stand for), with ipaddr.js naming the
// range of an address literal. Only public unicast addresses and public DNS names pass; loopback
// passes only where ALLOW_LOOPBACK_UPSTREAMS allows it. Then the input must already be the
// parser's own serialisation of itself, so the string stored is the string that was checked.
import ipaddr from "ipaddr.js";
import { AppError } from "./errors.ts";

export const MAX_BASE_URL_LENGTH = 2048;

export type BaseUrlOptions = {
  /** ALLOW_LOOPBACK_UPSTREAMS: the local trial's demo upstream on 127.0.0.1 / localhost / [::1] */
  allowLoopback: boolean;
};

/** Suffixes that never name a public host: RFC 6761/6762/8375, ICANN's .internal, common
 * private-network TLDs, reverse-DNS zones. */
const PRIVATE_SUFFIXES = [
  "localhost",
  "local",
  "internal",
  "localdomain",
  "home.arpa",
  "arpa",
  "lan",
  "intranet",
  "corp",
  "home",
  "private",
];

/** Public names known to resolve to metadata services or to any address written in them
 * (best effort: see "DNS rebinding" in docs/security.md). */
const PRIVATE_NAMES = ["metadata.tencentyun.com", "nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me"];

/** Space, every C0/C1 control, and the Unicode spaces, separators and invisible format marks. */
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}\p{Cf}\p{Z}]/u;

function under(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

/** Why an address literal is refused, or null. Only the "unicast" range passes (ipaddr.js names
 * every special range: private, loopback, linkLocal, carrierGradeNat, uniqueLocal, ipv4Mapped,
 * rfc6052 (NAT64), 6to4, teredo, multicast, reserved, ...), and loopback where allowed. */
function addressProblem(address: ipaddr.IPv4 | ipaddr.IPv6, options: BaseUrlOptions): string | null {
  const range = address.range();
  if (range === "unicast") return null;
  if (range === "loopback" && options.allowLoopback) return null;
  return `is a ${range} address; Outlay calls only public upstreams`;
}

/** Why a URL's host (as `URL.hostname` gives it) is not a public upstream, or null. Also used for
 * the identity provider's URLs in single sign-on. */
export function hostProblem(host: string, options: BaseUrlOptions): string | null {
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    if (!ipaddr.IPv6.isValid(inner)) return "is not an IPv6 address";
    return addressProblem(ipaddr.IPv6.parse(inner), options);
  }
  // The URL parser has already turned every IPv4 spelling into four decimal parts.
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return addressProblem(ipaddr.IPv4.parse(host), options);
  if (host.endsWith(".")) return "ends with a dot; write the name without it";
  if (host === "localhost") return options.allowLoopback ? null : "is loopback; Outlay calls only public upstreams";
  if (!host.includes(".")) return "is a single-label name; use the provider's public host name";
  if (PRIVATE_SUFFIXES.some((s) => under(host, s))) return "is a private or special-use name";
  if (PRIVATE_NAMES.some((s) => under(host, s))) return "is a name that resolves to private addresses";
  return null;
}

/** The problem with a base URL to store, naming the field `base_url`, or null when it may be
 * stored as given (after trailing slashes are dropped). */
export function checkBaseUrl(value: string, options: BaseUrlOptions): AppError | null {
  return checkOutboundUrl(value, { field: "base_url", label: "The base URL", allowQuery: false }, options);
}

/** The problem with a webhook endpoint's URL, naming the field `url`, or null. The same rules as
 * a base URL (https, a public host, no credentials, normal form), but a query may carry what the
 * receiver needs to route the call. */
export function checkWebhookUrl(value: string, options: BaseUrlOptions): AppError | null {
  return checkOutboundUrl(value, { field: "url", label: "The webhook URL", allowQuery: true }, options);
}

type UrlRole = { field: string; label: string; allowQuery: boolean };

function checkOutboundUrl(value: string, role: UrlRole, options: BaseUrlOptions): AppError | null {
  const problem = (message: string) => new AppError("bad_request", message, role.field);
  const { label } = role;
  if (value.length > MAX_BASE_URL_LENGTH) {
    return problem(`${label} is longer than ${MAX_BASE_URL_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(`${label} is not a URL.`);
  }
  // The parser drops tabs and newlines and trims spaces silently: refuse them instead.
  if (WHITESPACE_OR_CONTROL.test(value)) {
    return problem(`${label} must not contain spaces or control characters (check the ends, too).`);
  }
  if (value.includes("#") || (!role.allowQuery && value.includes("?"))) {
    return problem(`${label} must not carry ${role.allowQuery ? "a fragment" : "a query or a fragment"}.`);
  }
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) {
    return problem(`${label} must not carry credentials (user:password@).`);
  }
  const loopbackHttp = url.protocol === "http:" && options.allowLoopback;
  if (url.protocol !== "https:" && !loopbackHttp) return problem(`${label} must use https.`);
  const hostIssue = hostProblem(url.hostname, options);
  if (hostIssue) return problem(`${label}'s host ${url.hostname.slice(0, 80)} ${hostIssue}.`);
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) return problem(`${label} must use https.`);
  const canonical = url.href;
  if (value !== canonical && !(url.pathname === "/" && !url.search && `${value}/` === canonical)) {
    return problem(`Write ${label.replace(/^The /, "the ")} in its normal form: ${canonical.slice(0, 200)}`);
  }
  return null;
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  return ipaddr.isValid(literal) && ipaddr.parse(literal).range() === "loopback";
}
