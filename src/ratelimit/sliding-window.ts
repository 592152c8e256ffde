/**
 * The sliding-window counter of `@upstash/ratelimit` (`Ratelimit.slidingWindow`), as plain
 * arithmetic so that the in-process limiters decide exactly as its Lua script does: fixed windows
 * aligned to the epoch (`floor(now / windowMs)`), and a request counts the current window plus the
 * previous one weighted by how much of it still overlaps the sliding window.
 */

/** One identifier's counts: a window index and the counts of that window and the one before. */
export interface WindowCounts {
  window: number;
  current: number;
  previous: number;
}

/** Index of the fixed window holding `now`, the same number upstash puts in its keys. */
export function windowIndex(now: number, windowMs: number): number {
  return Math.floor(now / windowMs);
}

/** Moves `counts` forward to `window`: the current count becomes the previous one, or both clear. */
export function rollTo(counts: WindowCounts, window: number): void {
  if (counts.window === window) return;
  counts.previous = window - counts.window === 1 ? counts.current : 0;
  counts.current = 0;
  counts.window = window;
}

/** Requests that count at `now`: `current + floor((1 - elapsed/window) * previous)`, as the script does. */
export function usage(counts: WindowCounts, now: number, windowMs: number): number {
  const elapsed = now - counts.window * windowMs;
  return counts.current + Math.floor((1 - elapsed / windowMs) * counts.previous);
}

/**
 * Earliest epoch ms at which a request would be admitted if nothing else is counted: when the
 * previous window's weight has decayed far enough, or, with the current window full, part-way into
 * the next one.
 */
export function retryAt(counts: WindowCounts, limit: number, windowMs: number): number {
  const start = counts.window * windowMs;
  const { current, previous } = counts;
  let at: number;
  if (current < limit && previous > 0) {
    at = start + Math.floor((windowMs * (previous - (limit - current))) / previous) + 1;
  } else {
    const full = Math.max(current, limit);
    at = start + windowMs + Math.floor((windowMs * (full - limit)) / full) + 1;
  }
  // The exact solution can sit one ms off the floating-point weighting the script (and `usage`) uses.
  const admits = (t: number) => {
    const then = { ...counts };
    rollTo(then, windowIndex(t, windowMs));
    return usage(then, t, windowMs) < limit;
  };
  if (admits(at - 1)) return at - 1;
  return admits(at) ? at : at + 1;
}

/** The outcome of {@link take}. */
export interface Take {
  allowed: boolean;
  remaining: number;
  resetAt: number;
}

/**
 * Counts one request in `counts` if it fits under `limit`, as upstash's script does: a refused
 * request is not counted, `remaining` is `limit - (usage + 1)` after an admitted one.
 */
export function take(counts: WindowCounts, limit: number, now: number, windowMs: number): Take {
  rollTo(counts, windowIndex(now, windowMs));
  const used = usage(counts, now, windowMs);
  if (used >= limit) return { allowed: false, remaining: 0, resetAt: retryAt(counts, limit, windowMs) };
  counts.current += 1;
  return { allowed: true, remaining: limit - used - 1, resetAt: (counts.window + 1) * windowMs };
}

/**
 * A `Map` that keeps at most `maxEntries`, dropping the oldest insertion first; `onEvict` sees
 * what goes. Callers re-insert (`refresh`) what they want kept, making it least-recently-used.
 * It is a real `Map`, so `@upstash/ratelimit` accepts it as its `ephemeralCache`.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(
    private readonly maxEntries: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.maxEntries) {
      const [oldestKey, oldestValue] = this.entries().next().value as [K, V];
      this.delete(oldestKey);
      this.onEvict?.(oldestKey, oldestValue);
    }
    return this;
  }

  /** Moves `key` to the young end, so eviction takes it last. */
  refresh(key: K, value: V): void {
    this.delete(key);
    this.set(key, value);
  }
}
