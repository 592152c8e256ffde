/** The table of job rows: throughput, paired ratio, peak RSS, latency and the check, per row. */
import type { JobMeasurement, JobRow } from "./job";
import { type Stat, stat } from "./report";

export interface JobSummary {
  scenario: string;
  row: string;
  label: string;
  procs: number;
  unit: string;
  baseline?: string;
  rounds: number;
  items: Stat;
  /** Units of work per second. */
  rate: Stat;
  /** Per-round rate divided by the baseline's rate in the same round. */
  ratio?: Stat;
  peakRssMb?: Stat;
  p50Ms?: Stat;
  p99Ms?: Stat;
  failedChecks: number;
  /** The check of the last round, in words. */
  check: string;
}

export function summarizeJob(scenario: string, row: JobRow, measurements: JobMeasurement[]): JobSummary {
  const mine = measurements.filter((m) => m.scenario === scenario && m.row === row.id);
  const rate = (m: JobMeasurement) => m.result.items / m.result.durationSec;
  const ratios: number[] = [];
  for (const m of mine) {
    const base = measurements.find(
      (b) => b.scenario === scenario && b.row === row.baseline && b.round === m.round,
    );
    if (base && rate(base) > 0) ratios.push(rate(m) / rate(base));
  }
  const optional = (values: (number | undefined)[]) => {
    const present = values.filter((v): v is number => v !== undefined);
    return present.length > 0 ? stat(present) : undefined;
  };
  return {
    scenario,
    row: row.id,
    label: row.label,
    procs: row.procs,
    unit: row.unit,
    baseline: row.baseline,
    rounds: mine.length,
    items: stat(mine.map((m) => m.result.items)),
    rate: stat(mine.map(rate)),
    ratio: ratios.length > 0 ? stat(ratios) : undefined,
    peakRssMb: optional(mine.map((m) => m.result.peakRssMb)),
    p50Ms: optional(mine.map((m) => m.result.latency?.p50Ms)),
    p99Ms: optional(mine.map((m) => m.result.latency?.p99Ms)),
    failedChecks: mine.filter((m) => !m.result.ok).length,
    check: mine.at(-1)?.result.check ?? "",
  };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const x = (n: number) => `${n.toFixed(2)}×`;
const range = (s: Stat, f: (n: number) => string) => `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;

export function renderJobTable(rows: JobSummary[], labels: Map<string, string>): string {
  const header = [
    "scenario",
    "target",
    "procs",
    "items",
    "rate/s median [min–max]",
    "ratio median [min–max] (vs)",
    "peak RSS MB median [min–max]",
    "p50 ms",
    "p99 ms median [min–max]",
    "checks",
  ];
  const lines = rows.map((r) => [
    r.scenario,
    `${r.failedChecks ? "! " : ""}${r.label}`,
    String(r.procs),
    `${int(r.items.median)} ${r.unit}`,
    range(r.rate, int),
    r.ratio
      ? `${range(r.ratio, x)} (${labels.get(`${r.scenario}/${r.baseline}`) ?? r.baseline})`
      : "baseline",
    r.peakRssMb ? range(r.peakRssMb, int) : "-",
    r.p50Ms ? ms(r.p50Ms.median) : "-",
    r.p99Ms ? range(r.p99Ms, ms) : "-",
    r.failedChecks ? `${r.failedChecks}/${r.rounds} FAILED` : `${r.rounds}/${r.rounds} ok`,
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i]!.length)));
  const numeric = new Set([2, 7]);
  const render = (cells: string[]) =>
    cells.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ");
  return [render(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(render)].join("\n");
}
