import { BoundedMap, rollTo, type WindowCounts, windowIndex } from "./sliding-window";
import type { WindowIncrement, WindowSync } from "./window-sync";

/** One client as this instance sees it: the shared counts last read plus its own admissions since. */
export interface ViewEntry extends WindowCounts {
  /** Admissions in `window` that Redis has not seen yet. */
  unsynced: number;
  /** Redis refused this client until then; answered here without asking again. */
  blockedUntil: number;
}

/**
 * This instance's view of the shared sliding-window counters, and the bookkeeping that keeps it
 * honest: every local admission is sent exactly once — kept for the next push when a push fails,
 * carried over when its client moves to a new window or is evicted — and totals read back never
 * lower the view (which stays a lower bound of the shared usage).
 */
export class SharedWindowView {
  private readonly entries: BoundedMap<string, ViewEntry>;
  private readonly dirty = new Set<string>();
  /** Admissions of clients that moved to a new window or were evicted before their push. */
  private orphans: WindowIncrement[] = [];

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {
    this.entries = new BoundedMap(maxEntries, (identifier, entry) => this.orphan(identifier, entry));
  }

  /** The client's entry, rolled forward to the window holding `now`. */
  entry(identifier: string, now: number): ViewEntry {
    const window = windowIndex(now, this.windowMs);
    let entry = this.entries.get(identifier);
    if (!entry) {
      entry = { window, current: 0, previous: 0, unsynced: 0, blockedUntil: 0 };
      this.entries.set(identifier, entry);
    } else if (entry.window !== window) {
      this.orphan(identifier, entry);
      rollTo(entry, window);
      this.entries.refresh(identifier, entry);
    }
    return entry;
  }

  /** Counts one request admitted here; Redis learns of it with the next push. */
  admit(identifier: string, entry: ViewEntry): void {
    entry.current += 1;
    entry.unsynced += 1;
    this.dirty.add(identifier);
  }

  get hasUnsent(): boolean {
    return this.dirty.size > 0 || this.orphans.length > 0;
  }

  /**
   * One round trip: sends the unsent admissions of `only` that client, or of every client (plus the
   * carried-over ones), and adopts the totals; when it fails, keeps them for the next push. Never
   * rejects: answers the error, if any.
   */
  async push(sync: WindowSync, only?: string): Promise<unknown> {
    const sent: WindowIncrement[] = [];
    for (const identifier of only === undefined ? [...this.dirty] : [only]) {
      this.dirty.delete(identifier);
      const entry = this.entries.get(identifier);
      if (!entry || entry.unsynced === 0) continue;
      sent.push({ identifier, window: entry.window, count: entry.unsynced });
      entry.unsynced = 0;
    }
    const carried = only === undefined ? this.orphans : [];
    if (only === undefined) this.orphans = [];
    if (sent.length === 0 && carried.length === 0) return undefined;
    try {
      const totals = await sync.push([...sent, ...carried]);
      sent.forEach((increment, i) => {
        this.adopt(increment, totals[i]?.current ?? 0, totals[i]?.previous ?? 0);
      });
      return undefined;
    } catch (error) {
      for (const increment of sent) {
        const entry = this.entries.get(increment.identifier);
        if (entry?.window === increment.window) {
          entry.unsynced += increment.count;
          this.dirty.add(increment.identifier);
        } else this.keep(increment);
      }
      for (const increment of carried) this.keep(increment);
      return error;
    }
  }

  /** Moves unsent admissions out of `entry` (rolling over or evicted) so that the next push sends them. */
  private orphan(identifier: string, entry: ViewEntry): void {
    if (entry.unsynced === 0) return;
    this.keep({ identifier, window: entry.window, count: entry.unsynced });
    entry.unsynced = 0;
  }

  private keep(increment: WindowIncrement): void {
    // Bounded like the entries; past that (Redis long gone) the oldest counts are given up.
    if (this.orphans.length >= this.maxEntries) this.orphans.shift();
    this.orphans.push(increment);
  }

  /** Takes Redis's totals, keeping the admissions made here while the push was under way. */
  private adopt({ identifier, window }: WindowIncrement, current: number, previous: number): void {
    const entry = this.entries.get(identifier);
    // Never lower the view: a consult made while the push was under way may know a higher count.
    if (entry?.window === window) {
      entry.current = Math.max(entry.current, current + entry.unsynced);
      entry.previous = Math.max(entry.previous, previous);
    } else if (entry?.window === window + 1) {
      entry.previous = Math.max(entry.previous, current);
    }
  }
}
