/** Why a target URL was refused; the HTTP layer maps each reason to a problem type. */
export type UnsafeUrlReason = "invalid" | "scheme" | "credentials" | "too-long" | "loop" | "blocked";

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: UnsafeUrlReason; detail: string };

export const maxUrlLength = 2048;

const hostMatches = (host: string, listed: string) => host === listed || host.endsWith(`.${listed}`);

/**
 * Decides whether a link may point at `input`, and answers its normalised form (the WHATWG URL
 * serialisation — what a browser would request). Only http(s); no user:password; at most 2048
 * characters; never one of our own short domains (a redirect loop); never a blocklisted host or
 * any of its subdomains. The normalised form cannot carry CR/LF: the URL parser strips tabs and
 * newlines and percent-encodes other controls, so it is always safe to put in `Location`.
 *
 * @example
 * checkTargetUrl("https://example.com/a b", { shortDomains: ["sho.rt"], blocklist: [] });
 * // { ok: true, url: "https://example.com/a%20b" }
 */
export function checkTargetUrl(
  input: string,
  policy: { shortDomains: readonly string[]; blocklist: readonly string[] },
): UrlCheck {
  // Raw controls are refused outright rather than silently stripped, so what the user stored is
  // what they sent.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(input)) {
    return { ok: false, reason: "invalid", detail: "URL contains control characters" };
  }
  if (input.length > maxUrlLength) {
    return { ok: false, reason: "too-long", detail: `URL is longer than ${maxUrlLength} characters` };
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: "invalid", detail: "not an absolute URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return {
      ok: false,
      reason: "scheme",
      detail: `scheme ${url.protocol.slice(0, -1)} is not allowed; use http or https`,
    };
  }
  if (url.username || url.password) {
    return { ok: false, reason: "credentials", detail: "URL must not contain a user name or password" };
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (!host) return { ok: false, reason: "invalid", detail: "URL has no host" };
  if (policy.shortDomains.some((domain) => hostMatches(host, domain))) {
    return { ok: false, reason: "loop", detail: "URL points at this link service itself" };
  }
  if (policy.blocklist.some((listed) => hostMatches(host, listed))) {
    return { ok: false, reason: "blocked", detail: `links to ${host} are not allowed` };
  }
  if (url.href.length > maxUrlLength) {
    return {
      ok: false,
      reason: "too-long",
      detail: `URL is longer than ${maxUrlLength} characters once normalised`,
    };
  }
  return { ok: true, url: url.href };
}

/** The conventional order; jsonb does not keep key order, so the URL would otherwise vary by store. */
const utmOrder = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/** Appends UTM parameters to a target, keeping its existing query (an existing key is kept as is). */
export function withUtm(target: string, utm: Record<string, string> | null | undefined): string {
  if (!utm || Object.keys(utm).length === 0) return target;
  const url = new URL(target);
  for (const key of utmOrder) {
    const value = utm[key];
    if (value !== undefined && !url.searchParams.has(key)) url.searchParams.append(key, value);
  }
  return url.href;
}
