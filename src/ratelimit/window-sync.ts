/** Admissions of one identifier in one fixed window that only this process has counted so far. */
export interface WindowIncrement {
  identifier: string;
  window: number;
  count: number;
}

/** The shared totals after an increment: its window's count and the previous window's. */
export interface SharedCounts {
  current: number;
  previous: number;
}

/**
 * Where the local-first limiter reconciles with the other instances: it adds local admissions to
 * the shared per-window counters and reads the totals back, one round trip per batch. The counters
 * are the ones `@upstash/ratelimit` keeps, so the exact check near the limit sees them.
 */
export interface WindowSync {
  /** Answers one {@link SharedCounts} per increment, in order; rejects when the store is unreachable. */
  push(increments: readonly WindowIncrement[]): Promise<SharedCounts[]>;
}
