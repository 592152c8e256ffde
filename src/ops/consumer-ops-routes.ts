import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";

/**
 * What the consumer role answers over HTTP, for probes and Prometheus: `/healthz` (the process
 * answers) and `/metrics` (its registry: clicks ingested, duplicates, retries, dead-lettered,
 * claimed, backlog gauges), behind the same bearer token as the server's `/metrics` when
 * METRICS_TOKEN is set. Nothing else: the role serves no API.
 *
 * @example
 * serve({ fetch: createConsumerOpsApp({ metrics, metricsToken: config.METRICS_TOKEN }).fetch, port });
 */
export function createConsumerOpsApp(options: { metrics: MetricsRegistry; metricsToken?: string }): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ status: "ok" as const });
  });
  if (options.metricsToken) app.use("/metrics", bearerAuth({ token: options.metricsToken }));
  app.get("/metrics", (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return c.body(options.metrics.render());
  });
  return app;
}
