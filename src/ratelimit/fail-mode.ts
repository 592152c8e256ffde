import type { RateLimitDecision, RateLimitPolicy } from "./rate-limiter";
import { windowIndex } from "./sliding-window";

/** How long a fail-closed refusal asks the client to wait before trying again. */
export const failClosedRetryMs = 5_000;

/**
 * The decision when Redis did not answer in time: the policy's fail mode. Failing open, nothing
 * is known of the client's usage, so the window is reported as unused; failing closed, the client
 * is asked to come back in {@link failClosedRetryMs}.
 *
 * @example
 * failureDecision(policies.password, Date.now()); // { allowed: false, source: "fail-closed", ... }
 */
export function failureDecision(policy: RateLimitPolicy, now: number): RateLimitDecision {
  if (policy.failMode === "closed") {
    const resetAt = now + failClosedRetryMs;
    return { allowed: false, limit: policy.limit, remaining: 0, resetAt, policy, source: "fail-closed" };
  }
  const resetAt = (windowIndex(now, policy.windowMs) + 1) * policy.windowMs;
  return {
    allowed: true,
    limit: policy.limit,
    remaining: policy.limit,
    resetAt,
    policy,
    source: "fail-open",
  };
}
