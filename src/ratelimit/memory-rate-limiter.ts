import type { RateLimitPolicies } from "./rate-limit-policies";
import type { PolicyName, RateLimitDecision, RateLimiter } from "./rate-limiter";
import { BoundedMap, take, type WindowCounts } from "./sliding-window";

/** Options for {@link MemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  /** Identifiers remembered per policy; the least recently active go first. Default 50 000. */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The in-process limiter: the embedded default (no Redis) and the unit-test double. Same sliding
 * window as `@upstash/ratelimit`, but every process or isolate counts on its own, so a Node
 * cluster of N workers without Redis admits up to N times the limit.
 *
 * Memory is bounded: a flood of distinct identifiers evicts the least recently active ones, which
 * at worst forgets a client that has been quiet the longest.
 *
 * @example
 * const limiter = new MemoryRateLimiter(policiesFromConfig(config));
 * const { allowed } = await limiter.limit("redirect", "203.0.113.7");
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly counters = new Map<PolicyName, BoundedMap<string, WindowCounts>>();

  constructor(
    private readonly policies: RateLimitPolicies,
    private readonly options: MemoryRateLimiterOptions = {},
  ) {}

  async limit(name: PolicyName, identifier: string): Promise<RateLimitDecision> {
    return this.decideNow(name, identifier);
  }

  decideNow(name: PolicyName, identifier: string): RateLimitDecision {
    const policy = this.policies[name];
    const now = this.options.now?.() ?? Date.now();
    let counters = this.counters.get(name);
    if (!counters) {
      counters = new BoundedMap(this.options.maxEntries ?? 50_000);
      this.counters.set(name, counters);
    }
    let counts = counters.get(identifier);
    if (!counts) {
      counts = { window: 0, current: 0, previous: 0 };
      counters.set(identifier, counts);
    }
    const before = counts.window;
    const result = take(counts, policy.limit, now, policy.windowMs);
    // Re-inserting once per window (not per request) keeps eviction near-LRU at little cost.
    if (counts.window !== before) counters.refresh(identifier, counts);
    return { ...result, limit: policy.limit, policy, source: "memory" };
  }

  async flush(): Promise<void> {}
}
