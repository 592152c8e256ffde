/** Medians, ratios and the one table the harness prints. */
import type { LoadResult } from "./load";

export interface Measurement {
  scenario: string;
  row: string;
  round: number;
  /** 1-minute load average when the measurement started. */
  load1: number;
  result: LoadResult;
  /** Scenario-specific counts (Postgres loads, Redis calls, …). */
  extra: Record<string, number>;
  /** Statuses outside the row's expected set (a run with any is flagged). */
  unexpected: number;
}

export interface RowSummary {
  scenario: string;
  row: string;
  label: string;
  procs: number;
  baseline?: string;
  rounds: number;
  rps: Stat;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  non2xx3xx: number;
  unexpected: number;
  expected: string;
  /** Per-round paired ratio against the baseline row of the same round. */
  ratio?: Stat;
  cpu: Record<string, number>;
  /** Server CPU time per request (µs), median over the rounds: steadier than req/s on a shared machine. */
  serverUsPerRequest: number;
  flagged: boolean;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function stat(values: number[]): Stat {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function summarizeRow(
  row: { scenario: string; id: string; label: string; procs: number; baseline?: string; expected: string },
  measurements: Measurement[],
): RowSummary {
  const mine = measurements.filter((m) => m.scenario === row.scenario && m.row === row.id);
  const ratios: number[] = [];
  if (row.baseline) {
    for (const m of mine) {
      const base = measurements.find(
        (b) => b.scenario === row.scenario && b.row === row.baseline && b.round === m.round,
      );
      if (base && base.result.rps > 0) ratios.push(m.result.rps / base.result.rps);
    }
  }
  const cpuNames = [...new Set(mine.flatMap((m) => Object.keys(m.result.cpu)))];
  const cpu: Record<string, number> = {};
  for (const name of cpuNames) cpu[name] = median(mine.map((m) => m.result.cpu[name] ?? 0));
  const errors = sum(mine.map((m) => m.result.errors));
  const unexpected = sum(mine.map((m) => m.unexpected));
  return {
    scenario: row.scenario,
    row: row.id,
    label: row.label,
    procs: row.procs,
    baseline: row.baseline,
    rounds: mine.length,
    rps: stat(mine.map((m) => m.result.rps)),
    p50Ms: median(mine.map((m) => m.result.p50Ms)),
    p99Ms: median(mine.map((m) => m.result.p99Ms)),
    p999Ms: median(mine.map((m) => m.result.p999Ms)),
    errors,
    non2xx3xx: sum(mine.map((m) => m.result.non2xx3xx)),
    unexpected,
    expected: row.expected,
    ratio: ratios.length > 0 ? stat(ratios) : undefined,
    cpu,
    serverUsPerRequest: median(
      mine.map((m) => ((m.result.cpu.server ?? 0) * 1e6) / Math.max(1, m.result.rps)),
    ),
    flagged: errors > 0 || unexpected > 0,
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const x = (n: number) => `${n.toFixed(2)}×`;

/** The table: one line per row, medians with [min–max] over the rounds. */
export function renderTable(rows: RowSummary[], labels: Map<string, string>): string {
  const header = [
    "scenario",
    "target",
    "procs",
    "req/s median [min–max]",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "errors",
    "non-2xx/3xx",
    "ratio median [min–max] (vs)",
    "srv CPU µs/req",
    "CPU cores srv/gen/other",
  ];
  const lines = rows.map((r) => {
    const ratio = r.ratio
      ? `${x(r.ratio.median)} [${x(r.ratio.min)}–${x(r.ratio.max)}] (${labels.get(`${r.scenario}/${r.baseline}`) ?? r.baseline})`
      : "baseline";
    const statusNote = r.expected === "2xx/3xx" ? "" : ` (${r.expected} expected)`;
    return [
      r.scenario,
      `${r.flagged ? "! " : ""}${r.label}`,
      String(r.procs),
      `${int(r.rps.median)} [${int(r.rps.min)}–${int(r.rps.max)}]`,
      ms(r.p50Ms),
      ms(r.p99Ms),
      ms(r.p999Ms),
      String(r.errors),
      `${int(r.non2xx3xx)}${statusNote}${r.unexpected ? ` ${int(r.unexpected)} UNEXPECTED` : ""}`,
      ratio,
      r.rps.median > 0 ? (((r.cpu.server ?? 0) * 1e6) / r.rps.median).toFixed(1) : "-",
      `${(r.cpu.server ?? 0).toFixed(2)}/${(r.cpu.generator ?? 0).toFixed(2)}/${(r.cpu.other ?? 0).toFixed(2)}`,
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i]!.length)));
  const numeric = new Set([2, 4, 5, 6, 7, 10]);
  const render = (cells: string[]) =>
    cells.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ");
  return [render(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(render)].join("\n");
}
