import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import { keyPrefix } from "../platform/cache/cache";
import { DeadlineExceededError } from "../platform/deadline";
import { failureDecision } from "./fail-mode";
import type { FailureReporter } from "./failure-reporter";
import type { RateLimitPolicies } from "./rate-limit-policies";
import type { PolicyName, RateLimitDecision, RateLimiter, RateLimitPolicy } from "./rate-limiter";
import { BoundedMap } from "./sliding-window";

/** Options for {@link UpstashRateLimiter}. */
export interface UpstashRateLimiterOptions {
  /** `@upstash/redis` client: Upstash REST on the edge, the TCP requester on Node. */
  redis: Redis;
  policies: RateLimitPolicies;
  /** Longest a decision waits on Redis before the policy's fail mode applies (RATE_LIMIT_TIMEOUT_MS). */
  timeoutMs: number;
  failures: FailureReporter;
  /** Refused identifiers remembered in-process per policy (the ephemeral cache). Default 10 000. */
  maxBlocked?: number;
  /** Clock for the decisions made without Redis, for tests. */
  now?: () => number;
}

/** Prefix of a policy's counters; upstash appends `:<identifier>:<window index>`. */
export function policyKeyPrefix(policy: PolicyName): string {
  return `${keyPrefix}rl:${policy}`;
}

/** The Redis key of one identifier's counter for one fixed window, exactly as upstash names it. */
export function windowKey(policy: PolicyName, identifier: string, window: number): string {
  return `${policyKeyPrefix(policy)}:${identifier}:${window}`;
}

/**
 * The shared limiter: one `@upstash/ratelimit` sliding window per policy over the platform's Redis,
 * one round trip (EVALSHA) per decision.
 *
 * Two library behaviours are corrected here. Its `timeout` does not fail: it *resolves* with
 * `success: true, reason: "timeout"` — fail-open for every policy, password attempts included — so
 * a timeout is turned into the policy's own fail mode. And an unreachable Redis makes `limit()`
 * reject; that becomes the fail mode too. Its ephemeral cache (identifiers refused until their
 * reset, answered without Redis, even while Redis is down) is kept, bounded. Analytics stay off:
 * they would cost extra commands per request.
 *
 * @example
 * const limiter = new UpstashRateLimiter({ redis, policies, timeoutMs: 50, failures });
 * await limiter.limit("password", `${ip}|${linkId}`);
 */
export class UpstashRateLimiter implements RateLimiter {
  private readonly limiters = new Map<PolicyName, Ratelimit>();

  constructor(private readonly options: UpstashRateLimiterOptions) {
    for (const policy of Object.values(options.policies)) {
      this.limiters.set(
        policy.name,
        new Ratelimit({
          redis: options.redis,
          limiter: Ratelimit.slidingWindow(policy.limit, `${policy.windowMs} ms`),
          prefix: policyKeyPrefix(policy.name),
          timeout: options.timeoutMs,
          analytics: false,
          enableTelemetry: false,
          ephemeralCache: new BoundedMap<string, number>(options.maxBlocked ?? 10_000),
        }),
      );
    }
  }

  async limit(name: PolicyName, identifier: string): Promise<RateLimitDecision> {
    const policy = this.options.policies[name];
    const limiter = this.limiters.get(name)!;
    let response: Awaited<ReturnType<Ratelimit["limit"]>>;
    try {
      response = await limiter.limit(identifier);
    } catch (error) {
      return this.failed(policy, error);
    }
    if (response.reason === "timeout") {
      const error = new DeadlineExceededError(`Redis did not answer within ${this.options.timeoutMs} ms`);
      return this.failed(policy, error);
    }
    return {
      allowed: response.success,
      limit: policy.limit,
      remaining: response.remaining,
      resetAt: response.reset,
      policy,
      source: "redis",
    };
  }

  async flush(): Promise<void> {}

  private failed(policy: RateLimitPolicy, error: unknown): RateLimitDecision {
    this.options.failures.report(policy.name, policy.failMode, error);
    return failureDecision(policy, this.options.now?.() ?? Date.now());
  }
}
