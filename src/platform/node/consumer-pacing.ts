import { type EventLoopUtilization, performance } from "node:perf_hooks";

/** What the process has used so far: CPU time (all threads) and the event loop's busy time. */
export interface UsageSample {
  /** CPU time, µs (user + system). */
  cpuMicros: number;
  /** Wall time the event loop spent running callbacks, ms. */
  activeMs: number;
  /** `performance.now()`. */
  at: number;
}

/** Reads a {@link UsageSample} of this process. */
export function sampleUsage(): UsageSample {
  const cpu = process.cpuUsage();
  const elu: EventLoopUtilization = performance.eventLoopUtilization();
  return { cpuMicros: cpu.user + cpu.system, activeMs: elu.active, at: performance.now() };
}

export interface ContentionPacerOptions {
  /** Clock and usage readings, for tests. Default: this process's. */
  sample?: () => UsageSample;
  /** Stream entries not yet delivered (the last `click_queue_lag`), or undefined when not known yet. */
  backlog: () => number | undefined;
  /** At this backlog or above the consumer never yields (it must not let the stream trim clicks). */
  maxBacklog: number;
  /** The longest single pause, ms. Default 2,000. */
  maxPauseMs?: number;
}

export interface ContentionPacer {
  /** Call before a batch. */
  start(): void;
  /**
   * Call after it: how long to wait before the next one (0 when the consumer is getting the CPU it
   * asks for, or the backlog is at its bound).
   */
  pauseAfterBatch(): number;
  /** The share of the CPU the consumer was given while it wanted it, as last measured (1 = all). */
  share(): number;
}

/** Below this share of the CPU the consumer asked for, another process is winning it. */
const contendedShare = 0.7;
/** Less JS than this in a batch says too little about the share: the last estimate stands. */
const minActiveMs = 2;
/** A single misjudged batch cannot make the consumer stop for long. */
const minShare = 0.05;

/**
 * Lends the cluster consumer's low CPU priority to the Postgres work it asks for.
 *
 * The consumer process runs niced (CLICK_CONSUMER_NICE), so under full load the redirects win the
 * CPU from it — but most of a click's cost is the ingest statement, which a Postgres backend runs at
 * normal priority: through it a niced consumer still took ~0.35 of a core from the redirects
 * (bench redirect-mix, "other" CPU with the consumer running against paused). The pacer measures
 * how much CPU the consumer process was given while its event loop was busy (its CPU time over its
 * busy wall time): near 1 when it has the cores it wants, low when the scheduler is preferring the
 * web workers. Below {@link contendedShare} it waits, after each batch,
 * the batch's waiting time (mostly Postgres) times `1/share − 1`, so that the backend's work gets
 * the share the consumer itself gets and the stream holds the backlog until the load eases. It
 * never waits while the backlog is at `maxBacklog` or beyond, so the stream's MAXLEN never trims
 * an unstored click, nor for longer than `maxPauseMs` at a time.
 *
 * @example
 * const pacer = createContentionPacer({ backlog: () => lastLag, maxBacklog: maxLen / 10 });
 * pacer.start(); await handleBatch(entries); await sleep(pacer.pauseAfterBatch());
 */
export function createContentionPacer(options: ContentionPacerOptions): ContentionPacer {
  const sample = options.sample ?? sampleUsage;
  const maxPauseMs = options.maxPauseMs ?? 2_000;
  let before: UsageSample | undefined;
  let share = 1;

  return {
    start() {
      before = sample();
    },
    pauseAfterBatch() {
      if (!before) return 0;
      const after = sample();
      const wallMs = after.at - before.at;
      const activeMs = after.activeMs - before.activeMs;
      const cpuMs = (after.cpuMicros - before.cpuMicros) / 1000;
      before = undefined;
      if (activeMs >= minActiveMs) share = Math.max(minShare, Math.min(1, cpuMs / activeMs));
      const backlog = options.backlog();
      if (share >= contendedShare || (backlog !== undefined && backlog >= options.maxBacklog)) return 0;
      const waitingMs = Math.max(0, wallMs - activeMs);
      return Math.min(maxPauseMs, Math.round(waitingMs * (1 / share - 1)));
    },
    share: () => share,
  };
}
