import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import type { AppEnv } from "./app-env";

/** One request's series: the counter and the latency histogram of its method, route and status. */
export interface RequestSeries {
  count(): void;
  time(seconds: number): void;
}

/**
 * The RED series by method, route template and status, each bound once per registry: the app's
 * middleware and the Node redirect fast path count into the same series through this.
 */
function bindRequestSeries(
  metrics: MetricsRegistry,
): (method: string, route: string, status: number) => RequestSeries {
  const bound = new Map<string, RequestSeries>();
  return (method, route, status) => {
    const id = `${method} ${route} ${status}`;
    let series = bound.get(id);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = {
        count: metrics.boundCounter("http_requests_total", "HTTP requests served", labels),
        time: metrics.boundHistogram(
          "http_request_duration_seconds",
          "Time from request to response headers",
          labels,
        ),
      };
      bound.set(id, series);
    }
    return series;
  };
}

const seriesByRegistry = new WeakMap<MetricsRegistry, ReturnType<typeof bindRequestSeries>>();

/** {@link bindRequestSeries} of `metrics`, one per registry. */
export function requestSeriesOf(
  metrics: MetricsRegistry,
): (method: string, route: string, status: number) => RequestSeries {
  let seriesOf = seriesByRegistry.get(metrics);
  if (!seriesOf) {
    seriesOf = bindRequestSeries(metrics);
    seriesByRegistry.set(metrics, seriesOf);
  }
  return seriesOf;
}

/**
 * RED metrics per route template (never per raw path, so cardinality stays bounded by the route
 * table): a request counter and a latency histogram, both by method, route and status.
 */
export function requestMetrics(): MiddlewareHandler<AppEnv> {
  return async function requestMetrics(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      // After `next()` the route index points at the handler that answered; a middleware there
      // (method ALL) means no route matched.
      const handler = matchedRoutes(c)[c.req.routeIndex];
      const route = handler && handler.method !== "ALL" ? handler.path : "unmatched";
      const seriesOf = requestSeriesOf(c.get("services").metrics);
      const series = seriesOf(c.req.method, route, c.res.status);
      series.count();
      series.time((performance.now() - started) / 1000);
    }
  };
}
