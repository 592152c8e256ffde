import { DeadlineExceededError } from "../platform/deadline";
import { failureDecision } from "./fail-mode";
import type { FailureReporter } from "./failure-reporter";
import type { PolicyName, RateLimitDecision, RateLimiter, RateLimitPolicy } from "./rate-limiter";
import { SharedWindowView, type ViewEntry } from "./shared-window-view";
import { retryAt, usage } from "./sliding-window";
import type { WindowSync } from "./window-sync";

/** Options for {@link LocalFirstRateLimiter}. */
export interface LocalFirstRateLimiterOptions {
  policy: RateLimitPolicy;
  /** Exact shared decisions for clients near their limit (the Upstash limiter). */
  authority: RateLimiter;
  /** Where local admissions are pushed and shared totals pulled back. */
  sync: WindowSync;
  failures: FailureReporter;
  /** Longest a request waits on Redis (RATE_LIMIT_TIMEOUT_MS), as the authority does. Default 50. */
  timeoutMs?: number;
  /** Reconcile at most this often; the first request after the interval starts it. Default 1 000. */
  syncIntervalMs?: number;
  /** Share of the limit below which a client is decided locally. Default 0.8. */
  localShare?: number;
  /** Clients remembered; the least recently active go first. Default 50 000. */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The redirect path's limiter: a normal redirect costs no Redis round trip.
 *
 * Each instance keeps, per client, the shared sliding-window counts as last read from Redis plus
 * its own admissions since ({@link SharedWindowView}). Within a window those counts only grow, so
 * the local usage is a lower bound of the true one: a client below `localShare` of its limit is
 * admitted locally, one at or above the limit is refused locally, and only a client in between
 * costs a round trip — to the authority, `@upstash/ratelimit`'s exact check on the same keys.
 *
 * Reconciling is traffic-driven (no timers, so it runs on Workers too): the first request after
 * `syncIntervalMs` starts one push of every local admission, which reads back the shared totals of
 * those clients; the request does not wait for it (`decision.pending` is for `waitUntil`). So an
 * instance's view of a client it serves is at most one interval plus one round trip old, and a
 * client spread over several instances is checked exactly within two intervals of crossing
 * `localShare` of its limit. Admissions an idle instance holds reach Redis with its next request,
 * or `flush()`.
 *
 * If Redis is unreachable the policy fails open: local decisions go on, unsent admissions are kept
 * for the next push, and each failure is counted (and logged once per interval).
 */
export class LocalFirstRateLimiter implements RateLimiter {
  private readonly view: SharedWindowView;
  private lastSyncAt: number;
  private syncing: Promise<void> | undefined;

  constructor(private readonly options: LocalFirstRateLimiterOptions) {
    this.view = new SharedWindowView(options.policy.windowMs, options.maxEntries ?? 50_000);
    this.lastSyncAt = this.now();
  }

  async limit(name: PolicyName, identifier: string): Promise<RateLimitDecision> {
    const now = this.now();
    const entry = this.view.entry(identifier, now);
    let decision = this.decideLocally(name, identifier, entry, now);
    decision ??= await this.consult(identifier, entry, now);
    const pending = this.syncIfDue(now);
    return pending ? { ...decision, pending } : decision;
  }

  decideNow(name: PolicyName, identifier: string): RateLimitDecision | undefined {
    const now = this.now();
    const decision = this.decideLocally(name, identifier, this.view.entry(identifier, now), now);
    if (!decision) return undefined;
    const pending = this.syncIfDue(now);
    return pending ? { ...decision, pending } : decision;
  }

  /** Below `localShare` of the limit, or over it: decided here. In between: undefined (ask Redis). */
  private decideLocally(
    name: PolicyName,
    identifier: string,
    entry: ViewEntry,
    now: number,
  ): RateLimitDecision | undefined {
    const { policy } = this.options;
    if (name !== policy.name) throw new TypeError(`this limiter serves "${policy.name}", not "${name}"`);
    const used = usage(entry, now, policy.windowMs);
    const { limit } = policy;
    if (now < entry.blockedUntil || used >= limit) {
      const resetAt = Math.max(entry.blockedUntil, retryAt(entry, limit, policy.windowMs));
      return { allowed: false, limit, remaining: 0, resetAt, policy, source: "local" };
    }
    if (used < Math.floor(limit * (this.options.localShare ?? 0.8))) {
      this.view.admit(identifier, entry);
      const resetAt = (entry.window + 1) * policy.windowMs;
      return { allowed: true, limit, remaining: limit - used - 1, resetAt, policy, source: "local" };
    }
    return undefined;
  }

  /** Pushes every admission Redis has not seen; waits for a sync already under way first. */
  async flush(): Promise<void> {
    await this.syncing;
    await this.sync();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /**
   * Near the limit: Redis decides, once it holds this client's local admissions (pushed first, so
   * that the check counts them; only the first consult after local admissions pays for it). The
   * push waits at most `timeoutMs`, like the check; past it, the policy's fail mode applies.
   */
  private async consult(identifier: string, entry: ViewEntry, now: number): Promise<RateLimitDecision> {
    const { policy, authority } = this.options;
    const failure = entry.unsynced > 0 ? await this.pushWithin(identifier) : undefined;
    if (failure) {
      this.options.failures.report(policy.name, policy.failMode, failure);
      const decision = failureDecision(policy, now);
      if (decision.allowed) this.view.admit(identifier, entry);
      return decision;
    }
    const decision = await authority.limit(policy.name, identifier);
    if (decision.source === "redis" && decision.allowed) {
      // Redis counted this request: raise the local view to what Redis reported, never lower it.
      const weightedPrevious = usage(entry, now, policy.windowMs) - entry.current;
      entry.current = Math.max(entry.current + 1, decision.limit - decision.remaining - weightedPrevious);
    } else if (decision.source === "redis") {
      entry.blockedUntil = decision.resetAt;
    } else if (decision.allowed) {
      // Failed open (already reported): count it here so that Redis learns of it with the next sync.
      this.view.admit(identifier, entry);
    }
    return decision;
  }

  /** Pushes one client's admissions, waiting at most `timeoutMs`; answers the error, if any. */
  private async pushWithin(identifier: string): Promise<unknown> {
    const timeoutMs = this.options.timeoutMs ?? 50;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<Error>((resolve) => {
      const error = new DeadlineExceededError(`Redis did not answer within ${timeoutMs} ms`);
      timer = setTimeout(() => resolve(error), timeoutMs);
    });
    try {
      // A late push still settles its own bookkeeping (adopted, or kept for the next sync).
      return await Promise.race([this.view.push(this.options.sync, identifier), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private syncIfDue(now: number): Promise<void> | undefined {
    if (this.syncing || now - this.lastSyncAt < (this.options.syncIntervalMs ?? 1_000)) return undefined;
    this.lastSyncAt = now;
    if (!this.view.hasUnsent) return undefined;
    this.syncing = this.sync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async sync(): Promise<void> {
    const failure = await this.view.push(this.options.sync);
    if (failure) this.options.failures.report(this.options.policy.name, "open", failure);
  }
}
