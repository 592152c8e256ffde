import type { LinkRule } from "../../db/schema";
import type { TrafficClass } from "../analytics/click-recorder";

export type Device = "desktop" | "mobile" | "tablet";

/** Coarse device class from the user agent, enough for targeting rules. */
export function deviceOf(userAgent: string | null): Device {
  if (!userAgent) return "desktop";
  if (/iPad|Tablet|PlayBook|Silk|Android(?!.*Mobile)/i.test(userAgent)) return "tablet";
  if (/Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry/i.test(userAgent)) return "mobile";
  return "desktop";
}

/** How a redirect will be counted; HEAD and prefetches are served but never count as clicks. */
export function classifyVisit(method: string, headers: Headers): { traffic: TrafficClass; reason: string } {
  if (method === "HEAD") return { traffic: "head", reason: "head-request" };
  const purpose = `${headers.get("sec-purpose") ?? ""} ${headers.get("purpose") ?? ""}`.toLowerCase();
  if (purpose.includes("prefetch") || purpose.includes("prerender"))
    return { traffic: "prefetch", reason: "purpose-header" };
  return { traffic: "human", reason: "default" };
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
