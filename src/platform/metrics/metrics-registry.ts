/**
 * A small Prometheus registry that runs on every runtime (no `process`, no timers). Its state is a
 * plain JSON snapshot so that a Node cluster can merge the snapshots of all workers into one scrape.
 */

export type Labels = Record<string, string>;

interface CounterState {
  kind: "counter";
  help: string;
  values: Record<string, number>;
}
interface GaugeState {
  kind: "gauge";
  help: string;
  values: Record<string, number>;
}
interface HistogramState {
  kind: "histogram";
  help: string;
  buckets: number[];
  /** Per label set: cumulative-free bucket counts (one per bucket plus +Inf), sum and count. */
  values: Record<string, { counts: number[]; sum: number; count: number }>;
}
type MetricState = CounterState | GaugeState | HistogramState;

export type MetricsSnapshot = Record<string, MetricState>;

/** Seconds; spans a cache hit (sub-millisecond) to a slow database call. */
export const latencyBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * `name="value"` pairs sorted by name, values escaped. Runs several times per request (every
 * counter and histogram call), so it avoids the intermediate arrays and closures of the obvious
 * keys/sort/map/join chain; the output is the same.
 */
function labelKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i]!;
    key += `${i === 0 ? "" : ","}${name}="${escapeLabel(labels[name] ?? "")}"`;
  }
  return key;
}

const needsEscape = /[\\\n"]/;
const escapeLabel = (value: string): string =>
  needsEscape.test(value)
    ? value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')
    : value;

/**
 * @example
 * const metrics = new MetricsRegistry();
 * metrics.counter("http_requests_total", "Requests served", { route: "/healthz", status: "200" });
 * metrics.render(); // Prometheus text exposition format
 */
export class MetricsRegistry {
  private readonly state: MetricsSnapshot = {};

  counter(name: string, help: string, labels: Labels = {}, by = 1): void {
    const metric = this.ensure(name, () => ({ kind: "counter", help, values: {} }));
    if (metric.kind !== "counter") throw new TypeError(`${name} is a ${metric.kind}`);
    const key = labelKey(labels);
    metric.values[key] = (metric.values[key] ?? 0) + by;
  }

  gauge(name: string, help: string, value: number, labels: Labels = {}): void {
    const metric = this.ensure(name, () => ({ kind: "gauge", help, values: {} }));
    if (metric.kind !== "gauge") throw new TypeError(`${name} is a ${metric.kind}`);
    metric.values[labelKey(labels)] = value;
  }

  observe(name: string, help: string, value: number, labels: Labels = {}, buckets = latencyBuckets): void {
    const metric = this.ensure(name, () => ({ kind: "histogram", help, buckets, values: {} }));
    if (metric.kind !== "histogram") throw new TypeError(`${name} is a ${metric.kind}`);
    const key = labelKey(labels);
    let series = metric.values[key];
    if (!series) {
      series = { counts: new Array(metric.buckets.length + 1).fill(0), sum: 0, count: 0 };
      metric.values[key] = series;
    }
    let index = metric.buckets.findIndex((bound) => value <= bound);
    if (index === -1) index = metric.buckets.length;
    series.counts[index] = (series.counts[index] ?? 0) + 1;
    series.sum += value;
    series.count += 1;
  }

  /**
   * One counter series, its labels resolved once: for a path that counts every request, where
   * {@link counter} would rebuild the same label key each time.
   */
  boundCounter(name: string, help: string, labels: Labels = {}): (by?: number) => void {
    const metric = this.ensure(name, () => ({ kind: "counter", help, values: {} }));
    if (metric.kind !== "counter") throw new TypeError(`${name} is a ${metric.kind}`);
    const key = labelKey(labels);
    const { values } = metric;
    values[key] ??= 0;
    return (by = 1) => {
      values[key]! += by;
    };
  }

  /** {@link observe} for one series, its labels resolved once (see {@link boundCounter}). */
  boundHistogram(
    name: string,
    help: string,
    labels: Labels = {},
    buckets = latencyBuckets,
  ): (value: number) => void {
    const metric = this.ensure(name, () => ({ kind: "histogram", help, buckets, values: {} }));
    if (metric.kind !== "histogram") throw new TypeError(`${name} is a ${metric.kind}`);
    const key = labelKey(labels);
    const bounds = metric.buckets;
    metric.values[key] ??= { counts: new Array(bounds.length + 1).fill(0), sum: 0, count: 0 };
    const series = metric.values[key];
    return (value) => {
      let index = 0;
      while (index < bounds.length && value > bounds[index]!) index += 1;
      series.counts[index]! += 1;
      series.sum += value;
      series.count += 1;
    };
  }

  snapshot(): MetricsSnapshot {
    return structuredClone(this.state);
  }

  /** Renders this registry, or the merge of several snapshots (one per cluster worker). */
  render(snapshots: MetricsSnapshot[] = [this.state]): string {
    return renderSnapshot(mergeSnapshots(snapshots));
  }

  private ensure(name: string, create: () => MetricState): MetricState {
    let metric = this.state[name];
    if (!metric) {
      metric = create();
      this.state[name] = metric;
    }
    return metric;
  }
}

/** Counters and histograms add up across processes; a gauge keeps the sum too (e.g. pool sizes). */
export function mergeSnapshots(snapshots: MetricsSnapshot[]): MetricsSnapshot {
  const merged: MetricsSnapshot = {};
  for (const snapshot of snapshots) {
    for (const [name, metric] of Object.entries(snapshot)) {
      const target = merged[name];
      if (!target) {
        merged[name] = structuredClone(metric);
        continue;
      }
      if (target.kind === "histogram" && metric.kind === "histogram") {
        for (const [key, series] of Object.entries(metric.values)) {
          const into = target.values[key];
          if (!into) target.values[key] = structuredClone(series);
          else {
            series.counts.forEach((count, i) => {
              into.counts[i] = (into.counts[i] ?? 0) + count;
            });
            into.sum += series.sum;
            into.count += series.count;
          }
        }
      } else if (target.kind !== "histogram" && metric.kind !== "histogram") {
        for (const [key, value] of Object.entries(metric.values)) {
          target.values[key] = (target.values[key] ?? 0) + value;
        }
      }
    }
  }
  return merged;
}

function renderSnapshot(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const name of Object.keys(snapshot).sort()) {
    const metric = snapshot[name]!;
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} ${metric.kind}`);
    if (metric.kind !== "histogram") {
      for (const [key, value] of Object.entries(metric.values)) {
        lines.push(`${name}${key ? `{${key}}` : ""} ${value}`);
      }
      continue;
    }
    for (const [key, series] of Object.entries(metric.values)) {
      const prefix = key ? `${key},` : "";
      let cumulative = 0;
      metric.buckets.forEach((bound, i) => {
        cumulative += series.counts[i] ?? 0;
        lines.push(`${name}_bucket{${prefix}le="${bound}"} ${cumulative}`);
      });
      lines.push(`${name}_bucket{${prefix}le="+Inf"} ${series.count}`);
      lines.push(`${name}_sum${key ? `{${key}}` : ""} ${series.sum}`);
      lines.push(`${name}_count${key ? `{${key}}` : ""} ${series.count}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
