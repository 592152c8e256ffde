/** What a progress line reports: rows so far, and how far through `total` (when known) the work is. */
export interface ProgressState {
  rows: number;
  /** Work done in the unit of `total`: bytes read for an import, rows for an export. */
  done?: number;
}

const width = 24;
const plural = (n: number, unit: string) => `${n.toLocaleString("en")} ${unit}`;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "unknown";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`;
}

/**
 * A progress bar on a stream (stderr): rows, rows/s and the ETA when `total` is known (the file
 * size for an import, a count(*) for an export), "ETA unknown" otherwise. On a terminal it redraws
 * one line at most ten times a second; elsewhere (a log, CI) it writes a line every few seconds.
 *
 * @example
 * const progress = createProgress({ label: "import", total: size, out: process.stderr });
 * progress.update({ rows, done: bytesRead });
 * progress.finish({ rows, done: size });
 */
export function createProgress(options: {
  label: string;
  total?: number;
  out: { write(text: string): unknown; isTTY?: boolean };
  now?: () => number;
}) {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const interval = options.out.isTTY ? 100 : 5_000;
  let drawn = Number.NEGATIVE_INFINITY;

  const line = (state: ProgressState, final: boolean): string => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const rate = Math.round(state.rows / seconds);
    const parts = [options.label];
    const { total } = options;
    if (total !== undefined && state.done !== undefined) {
      const fraction = total === 0 ? 1 : Math.min(state.done / total, 1);
      const filled = Math.round(fraction * width);
      parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}]`, `${Math.floor(fraction * 100)}%`);
      const eta = fraction > 0 ? (seconds / fraction) * (1 - fraction) : Number.POSITIVE_INFINITY;
      parts.push(plural(state.rows, "rows"), `${plural(rate, "rows/s")}`);
      parts.push(final ? `in ${duration(seconds)}` : `ETA ${duration(eta)}`);
    } else {
      parts.push(plural(state.rows, "rows"), plural(rate, "rows/s"));
      parts.push(final ? `in ${duration(seconds)}` : "ETA unknown");
    }
    return parts.join(" ");
  };

  return {
    update(state: ProgressState): void {
      const at = now();
      if (at - drawn < interval) return;
      drawn = at;
      options.out.write(options.out.isTTY ? `\r\x1b[2K${line(state, false)}` : `${line(state, false)}\n`);
    },
    finish(state: ProgressState): void {
      options.out.write(options.out.isTTY ? `\r\x1b[2K${line(state, true)}\n` : `${line(state, true)}\n`);
    },
  };
}
