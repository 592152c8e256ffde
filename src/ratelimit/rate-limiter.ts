/** The limits edgelink enforces; each has its own counters and its own line in config. */
export const policyNames = ["redirect", "api-read", "api-write", "password"] as const;
export type PolicyName = (typeof policyNames)[number];

/**
 * What happens when the shared counters cannot be reached in time: `open` lets the request through
 * (availability first), `closed` refuses it (protection first).
 */
export type FailMode = "open" | "closed";

/** A sliding-window quota: at most `limit` requests per `windowMs` and identifier. */
export interface RateLimitPolicy {
  name: PolicyName;
  limit: number;
  windowMs: number;
  failMode: FailMode;
}

/**
 * Who decided: Redis (shared), `memory` (one process, the embedded default), `local` (this
 * process's view of the shared counters, no round trip), or a failure mode applied because Redis
 * did not answer in time.
 */
export type DecisionSource = "redis" | "memory" | "local" | "fail-open" | "fail-closed";

/** The answer for one request, with everything the rate-limit response fields need. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in the window after this one; 0 when refused. */
  remaining: number;
  /**
   * Epoch ms. Allowed: when the current window ends. Refused: the earliest time a retry can
   * succeed as far as this limiter knows (Retry-After is derived from it).
   */
  resetAt: number;
  policy: RateLimitPolicy;
  source: DecisionSource;
  /**
   * Background work started by this decision (reconciling with Redis). It never rejects; on the
   * edge, hand it to `waitUntil` so the isolate finishes it after the response.
   */
  pending?: Promise<void>;
}

/**
 * The rate-limit port. Implementations: in-process (`MemoryRateLimiter`), Redis through
 * `@upstash/ratelimit` (`UpstashRateLimiter`), and the redirect path's local-first tier in front
 * of it (`LocalFirstRateLimiter`). None of them throws for an unreachable Redis: the policy's fail
 * mode turns that into a decision.
 *
 * @example
 * const decision = await rateLimiter.limit("api-read", auth.keyId);
 * if (!decision.allowed) throw new AppError("RATE_LIMITED", { headers: rateLimitHeaders(decision) });
 */
export interface RateLimiter {
  /** Counts one request of `identifier` against `policy` and answers whether it may proceed. */
  limit(policy: PolicyName, identifier: string): Promise<RateLimitDecision>;
  /**
   * The same decision, synchronously, when this limiter can make it without waiting on anything
   * (counting the request exactly as `limit` would); undefined, with nothing counted, when only
   * `limit` can answer. For a fast path that must not yield to the event loop.
   */
  decideNow?(policy: PolicyName, identifier: string): RateLimitDecision | undefined;
  /** Writes counts only held in this process to the shared store (before shutdown); never rejects. */
  flush(): Promise<void>;
}
