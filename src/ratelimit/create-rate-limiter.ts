import type { Platform } from "../services";
import { FailureReporter } from "./failure-reporter";
import { LocalFirstRateLimiter } from "./local-first-rate-limiter";
import { MemoryRateLimiter } from "./memory-rate-limiter";
import { policiesFromConfig } from "./rate-limit-policies";
import type { RateLimiter } from "./rate-limiter";
import { UpstashRateLimiter } from "./upstash-rate-limiter";
import { createUpstashWindowSync } from "./upstash-window-sync";

/**
 * The limiter for a platform: with Redis (Upstash REST on the edge, the TCP requester on Node),
 * `@upstash/ratelimit` shared by every instance, with the local-first tier in front of it for
 * redirects; without Redis, the in-process limiter (per process or isolate).
 *
 * @example
 * const services = { ...platform, rateLimiter: createRateLimiter(platform) };
 */
export function createRateLimiter(
  platform: Pick<Platform, "config" | "redis" | "metrics" | "logger">,
): RateLimiter {
  const { config, redis, metrics, logger } = platform;
  const policies = policiesFromConfig(config);
  if (!redis) return new MemoryRateLimiter(policies);
  const failures = new FailureReporter({ metrics, logger });
  const shared = new UpstashRateLimiter({
    redis,
    policies,
    timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
    failures,
  });
  const redirects = new LocalFirstRateLimiter({
    policy: policies.redirect,
    authority: shared,
    sync: createUpstashWindowSync(redis, policies.redirect),
    failures,
    timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
  });
  return {
    limit: (policy, identifier) => (policy === "redirect" ? redirects : shared).limit(policy, identifier),
    decideNow: (policy, identifier) =>
      policy === "redirect" ? redirects.decideNow(policy, identifier) : undefined,
    flush: () => redirects.flush(),
  };
}
