import type { Config } from "../config";
import type { FailMode, PolicyName, RateLimitPolicy } from "./rate-limiter";

/** Policies by name. */
export type RateLimitPolicies = Readonly<Record<PolicyName, RateLimitPolicy>>;

/**
 * Redirects and the API stay up when Redis does not answer (a missed limit costs little; a failed
 * redirect is an outage). Password attempts do not: an unlimited guesser is the threat the limit
 * exists for.
 */
const failModes: Record<PolicyName, FailMode> = {
  redirect: "open",
  "api-read": "open",
  "api-write": "open",
  password: "closed",
};

/**
 * The four policies from config (`RATE_LIMIT_REDIRECT`, `_API_READ`, `_API_WRITE`, `_PASSWORD`).
 *
 * @example
 * policiesFromConfig(config).password; // { name: "password", limit: 10, windowMs: 900000, failMode: "closed" }
 */
export function policiesFromConfig(config: Config): RateLimitPolicies {
  const from = (name: PolicyName, rate: { limit: number; windowMs: number }): RateLimitPolicy => ({
    name,
    limit: rate.limit,
    windowMs: rate.windowMs,
    failMode: failModes[name],
  });
  return {
    redirect: from("redirect", config.RATE_LIMIT_REDIRECT),
    "api-read": from("api-read", config.RATE_LIMIT_API_READ),
    "api-write": from("api-write", config.RATE_LIMIT_API_WRITE),
    password: from("password", config.RATE_LIMIT_PASSWORD),
  };
}
