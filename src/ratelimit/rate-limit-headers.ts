import type { RateLimitDecision, RateLimitPolicy } from "./rate-limiter";

/** A Structured Field String (RFC 9651 §3.3.3): quoted, with `\` and `"` escaped. */
function sfString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

interface PolicyFields {
  nameValue: string;
  limitValue: number;
  windowMs: number;
  /** The policy name as a Structured Field String. */
  name: string;
  /** The whole `RateLimit-Policy` value. */
  policyField: string;
  /** `RateLimit-Limit`. */
  limit: string;
}

/**
 * The parts of the fields that depend on the policy alone, built once per policy object (every
 * limited request asks): kept only while the policy still holds the values they were built from.
 */
const fieldsByPolicy = new WeakMap<RateLimitPolicy, PolicyFields>();
function policyFields(policy: RateLimitPolicy): PolicyFields {
  const known = fieldsByPolicy.get(policy);
  if (
    known &&
    known.nameValue === policy.name &&
    known.limitValue === policy.limit &&
    known.windowMs === policy.windowMs
  ) {
    return known;
  }
  const name = sfString(policy.name);
  const fields: PolicyFields = {
    nameValue: policy.name,
    limitValue: policy.limit,
    windowMs: policy.windowMs,
    name,
    policyField: `${name};q=${policy.limit};w=${Math.max(1, Math.round(policy.windowMs / 1000))}`,
    limit: String(policy.limit),
  };
  fieldsByPolicy.set(policy, fields);
  return fields;
}

/** Whole seconds from `now` until `at`, never negative (delay-seconds). */
function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The response fields for a decision, per draft-ietf-httpapi-ratelimit-headers (-10/-11):
 *
 * - `RateLimit-Policy: "redirect";q=600;w=60` — the quota `q` per window `w` (seconds);
 * - `RateLimit: "redirect";r=599;t=42` — `r` left, `t` seconds of the effective window;
 *
 * plus the older `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (delta seconds)
 * that many clients still read. A refusal adds `Retry-After` (≥ 1 s), equal to `t`, so that it
 * never points before the end of the effective window, as the draft asks.
 *
 * @example
 * rateLimitHeaders(decision, Date.now());
 * // { "RateLimit-Policy": "\"api-read\";q=1200;w=60", RateLimit: "\"api-read\";r=1187;t=42", ... }
 */
export function rateLimitHeaders(decision: RateLimitDecision, now: number): Record<string, string> {
  const { policyField, rateLimit, limit, remaining, reset } = fieldValues(decision, now);
  const headers: Record<string, string> = {
    "RateLimit-Policy": policyField,
    RateLimit: rateLimit,
    "RateLimit-Limit": limit,
    "RateLimit-Remaining": remaining,
    "RateLimit-Reset": reset,
  };
  if (!decision.allowed) headers["Retry-After"] = reset;
  return headers;
}

/** The values of {@link rateLimitHeaders}' fields. */
function fieldValues(decision: RateLimitDecision, now: number) {
  const { name, policyField, limit } = policyFields(decision.policy);
  const remaining = String(Math.max(0, Math.floor(decision.remaining)));
  let reset = secondsUntil(decision.resetAt, now);
  if (!decision.allowed) reset = Math.max(1, reset);
  const resetText = String(reset);
  return {
    policyField,
    rateLimit: `${name};r=${remaining};t=${resetText}`,
    limit,
    remaining,
    reset: resetText,
  };
}

/**
 * Every field of a redirect the limiter admitted, as one object for Node's `writeHead`: the
 * {@link rateLimitHeaders}, `X-Request-Id`, `Cache-Control` and `Location`. Names are lower case,
 * as the app's responses carry them.
 *
 * @example
 * res.writeHead(302, redirectHeaders(decision, Date.now(), requestId, "private, max-age=0", url));
 */
export function redirectHeaders(
  decision: RateLimitDecision,
  now: number,
  requestId: string,
  cacheControl: string,
  location: string,
): Record<string, string> {
  const { policyField, rateLimit, limit, remaining, reset } = fieldValues(decision, now);
  return {
    "ratelimit-policy": policyField,
    ratelimit: rateLimit,
    "ratelimit-limit": limit,
    "ratelimit-remaining": remaining,
    "ratelimit-reset": reset,
    "x-request-id": requestId,
    "cache-control": cacheControl,
    location,
  };
}
