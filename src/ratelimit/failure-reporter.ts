import type { Logger } from "../platform/log/logger";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import type { FailMode, PolicyName } from "./rate-limiter";

/** Options for {@link FailureReporter}. */
export interface FailureReporterOptions {
  metrics: MetricsRegistry;
  logger: Logger;
  /** At most one log line per policy within this span. Default 60 000. */
  logIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface LogState {
  loggedAt: number;
  suppressed: number;
}

/**
 * Counts every rate-limit decision made without Redis, and logs it — but at most once per policy
 * and interval: when Redis is down, every request fails the same way, and a log line per request
 * would bury everything else (and cost more than the request). The next line carries how many
 * occurrences were left out since the previous one.
 *
 * @example
 * reporter.report("password", "closed", error); // rate_limit_failures_total{policy="password",mode="closed"} += 1
 */
export class FailureReporter {
  private readonly logState = new Map<PolicyName, LogState>();

  constructor(private readonly options: FailureReporterOptions) {}

  report(policy: PolicyName, mode: FailMode, error: unknown): void {
    this.options.metrics.counter(
      "rate_limit_failures_total",
      "Rate-limit checks that could not reach Redis in time, by policy and the fail mode applied",
      { policy, mode },
    );
    const now = this.options.now?.() ?? Date.now();
    const intervalMs = this.options.logIntervalMs ?? 60_000;
    const state = this.logState.get(policy);
    if (state && now - state.loggedAt < intervalMs) {
      state.suppressed += 1;
      return;
    }
    this.options.logger.warn(`rate limiter cannot reach Redis: failing ${mode}`, {
      policy,
      mode,
      error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      suppressedSinceLastLog: state?.suppressed ?? 0,
      logIntervalMs: intervalMs,
    });
    this.logState.set(policy, { loggedAt: now, suppressed: 0 });
  }
}
