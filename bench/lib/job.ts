/**
 * Job rows: a measurement that is a piece of work of a known size (import 1M links, export 1M
 * clicks, N stats queries), timed from start to end, with the peak RSS of the process doing it —
 * where the load rows of ./scenario.ts are a fixed duration of load. Same protocol: interleaved
 * rounds (A B … A B …), ratios paired within a round, median [min–max].
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import type { Context } from "./scenario";

/** What one run of a job row produced. */
export interface JobResult {
  /** Units of work done (links created, rows exported, queries answered). */
  items: number;
  durationSec: number;
  /** Peak resident memory of the process that did the work (MB), sampled or read from the OS. */
  peakRssMb?: number;
  /** Per-request latencies, for rows made of many requests. */
  latency?: { p50Ms: number; p99Ms: number; maxMs: number };
  /** The correctness check of this run, in words (e.g. "1,000,000 rows in links"). */
  check: string;
  /** False when the check failed: the row is flagged and never averaged in silently. */
  ok: boolean;
  extra?: Record<string, number>;
}

export interface JobRow {
  /** Stable id within the scenario. */
  id: string;
  label: string;
  procs: number;
  /** Configuration, printed under the table. */
  config: string;
  /** Unit of `items`, e.g. "links". */
  unit: string;
  /** Id of the row this one is compared with, same round. */
  baseline?: string;
  /** A small run before any measurement that checks the answers (throws when wrong). */
  preflight?: () => Promise<string>;
  run(round: number): Promise<JobResult>;
}

export interface JobScenarioRun {
  jobs: JobRow[];
  /** Lines for the report, e.g. how the data was seeded and checked. */
  notes?: () => Promise<string[]>;
  teardown(): Promise<void>;
}

export interface JobScenario {
  kind: "job";
  name: string;
  title: string;
  measures: string;
  needsPostgres: boolean;
  setup(ctx: Context): Promise<JobScenarioRun>;
}

export interface JobMeasurement {
  scenario: string;
  row: string;
  round: number;
  load1: number;
  result: JobResult;
}

export async function runJobs(
  scenario: JobScenario,
  ctx: Context,
  run: JobScenarioRun,
): Promise<{ measurements: JobMeasurement[]; notes: string[] }> {
  const selected = run.jobs.filter(
    (row) => ctx.rowFilter.length === 0 || ctx.rowFilter.some((part) => row.id.includes(part)),
  );
  const keep = new Set(selected.flatMap((row) => [row.id, ...(row.baseline ? [row.baseline] : [])]));
  const rows = run.jobs.filter((row) => keep.has(row.id));
  for (const row of rows) if (row.preflight) ctx.log(`  preflight ${row.id}: ${await row.preflight()}`);
  const measurements: JobMeasurement[] = [];
  for (let round = 1; round <= ctx.rounds; round += 1) {
    for (const row of rows) {
      const load1 = loadavg()[0]!;
      const result = await row.run(round);
      measurements.push({ scenario: scenario.name, row: row.id, round, load1, result });
      const rss = result.peakRssMb === undefined ? "" : `  peak RSS ${result.peakRssMb.toFixed(0)} MB`;
      const latency = result.latency
        ? `  p50 ${result.latency.p50Ms.toFixed(2)} ms  p99 ${result.latency.p99Ms.toFixed(2)} ms`
        : "";
      ctx.log(
        `  round ${round} ${row.id.padEnd(22)} ${Math.round(result.items / result.durationSec)
          .toLocaleString("en-US")
          .padStart(
            9,
          )} ${row.unit}/s  ${result.items.toLocaleString("en-US")} in ${result.durationSec.toFixed(1)} s` +
          `${rss}${latency}  load ${load1.toFixed(2)}  ${result.ok ? "ok" : "! CHECK FAILED"}: ${result.check}`,
      );
    }
  }
  return { measurements, notes: (await run.notes?.()) ?? [] };
}

/**
 * Samples the resident set (VmRSS) of the processes `pids()` names every `everyMs`, and answers
 * the highest value any one of them reached: the peak of the busiest process, which is what
 * "memory stays flat" is about (a cluster's idle primary is not the one importing).
 */
export function watchRss(pids: () => number[], everyMs = 100) {
  let peakKb = 0;
  const samples: { at: number; kb: number }[] = [];
  const started = performance.now();
  const sample = () => {
    let top = 0;
    for (const pid of pids()) top = Math.max(top, residentKb(pid) ?? 0);
    peakKb = Math.max(peakKb, top);
    samples.push({ at: performance.now() - started, kb: top });
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    /** Stops sampling; the peak in MB and the highest sample in each tenth of the run (flatness). */
    stop(): { peakMb: number; byTenth: number[] } {
      clearInterval(timer);
      sample();
      const span = performance.now() - started;
      const byTenth = Array.from({ length: 10 }, () => 0);
      for (const { at, kb } of samples) {
        const tenth = Math.min(9, Math.floor((at / span) * 10));
        byTenth[tenth] = Math.max(byTenth[tenth]!, kb / 1024);
      }
      return { peakMb: peakKb / 1024, byTenth };
    },
  };
}

/** VmRSS of a process in kB, or undefined when it is gone. */
export function residentKb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Percentile (0..1) of values already sorted ascending, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
