import type { Context } from "hono";
import type { LinkRule } from "../../db/schema";
import type { ServedVisit } from "../analytics/click-recorder";
import type { AppEnv } from "../http/app-env";
import { clientIp, type HeaderReader, unknownClient } from "../ratelimit/client-ip";

export type Device = "desktop" | "mobile" | "tablet";

/** Coarse device class from the user agent, enough for targeting rules. */
export function deviceOf(userAgent: string | null): Device {
  if (!userAgent) return "desktop";
  if (/iPad|Tablet|PlayBook|Silk|Android(?!.*Mobile)/i.test(userAgent)) return "tablet";
  if (/Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry/i.test(userAgent)) return "mobile";
  return "desktop";
}

/** A country code as analytics stores it: ISO alpha-2 upper case; `XX`, `T1` (Tor) and junk are unknown. */
export function normalizeCountry(value: string | null | undefined): string | null {
  const code = value?.trim().toUpperCase();
  return code && /^[A-Z]{2}$/.test(code) && code !== "XX" ? code : null;
}

/** What {@link visitOf} reads of a request; both the Hono route and the Node fast path provide it. */
export interface VisitSource {
  method: string;
  headers: HeaderReader;
  /** The client identifier (see `clientIp`). */
  ip: string;
  /** Cloudflare's `request.cf.country` (edge only). */
  cfCountry?: string;
}

/**
 * The raw visit of a request, for the click recorder: read from headers only, nothing parsed.
 * Country: Cloudflare's `request.cf.country` on the edge; on Node the header a trusted proxy sets,
 * named by GEO_COUNTRY_HEADER (never read when unset: a client could write it).
 */
export function visitOf(
  source: VisitSource,
  link: { id: string; workspaceId: string },
  geoCountryHeader: string | undefined,
): ServedVisit {
  const { headers } = source;
  return {
    eventId: crypto.randomUUID(),
    linkId: link.id,
    workspaceId: link.workspaceId,
    occurredAt: Date.now(),
    method: source.method,
    userAgent: headers.get("user-agent"),
    purpose: headers.get("sec-purpose") ?? headers.get("purpose"),
    referrer: headers.get("referer"),
    country: normalizeCountry(source.cfCountry ?? (geoCountryHeader ? headers.get(geoCountryHeader) : null)),
    ip: source.ip === unknownClient ? null : source.ip,
  };
}

/** {@link visitOf} for a request on the Hono app. */
export function captureVisit(c: Context<AppEnv>, link: { id: string; workspaceId: string }): ServedVisit {
  const cf = (c.req.raw as { cf?: { country?: string } }).cf;
  const source = {
    method: c.req.method,
    headers: c.req.raw.headers,
    ip: clientIp(c),
    cfCountry: cf?.country,
  };
  return visitOf(source, link, c.get("services").config.GEO_COUNTRY_HEADER);
}

/** The first rule whose every condition matches picks the target; otherwise the link's own URL. */
export function pickTarget(
  url: string,
  rules: LinkRule[] | null | undefined,
  visit: { device: Device; country: string | null },
): string {
  for (const rule of rules ?? []) {
    const deviceOk = !rule.device?.length || rule.device.includes(visit.device);
    const countryOk =
      !rule.country?.length || (visit.country !== null && rule.country.includes(visit.country));
    if (deviceOk && countryOk) return rule.url;
  }
  return url;
}
