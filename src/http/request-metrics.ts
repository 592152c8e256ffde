import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "./app-env";

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
      const labels = { method: c.req.method, route, status: String(c.res.status) };
      const { metrics } = c.get("services");
      metrics.counter("http_requests_total", "HTTP requests served", labels);
      metrics.observe(
        "http_request_duration_seconds",
        "Time from request to response headers",
        (performance.now() - started) / 1000,
        labels,
      );
    }
  };
}
