import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "../http/app-env";
import { validationHook } from "../http/problem-handlers";
import { withDeadline } from "../platform/deadline";

const dependencyStatus = z.object({
  status: z.enum(["up", "down"]),
  latencyMs: z.number(),
  error: z.string().optional(),
});

const readiness = z
  .object({
    status: z.enum(["ready", "degraded", "unavailable"]),
    failed: z.array(z.enum(["postgres", "redis"])).optional(),
    checks: z.object({ postgres: dependencyStatus, redis: dependencyStatus }),
  })
  .openapi("Readiness");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["operations"],
  summary: "Liveness: the process answers",
  responses: {
    200: {
      description: "Alive",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
  },
});

const readyRoute = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["operations"],
  summary: "Readiness: Postgres (required) and Redis (degraded without) answer within the timeout",
  responses: {
    200: {
      description: "Ready, or degraded (Redis down: redirects still served)",
      content: { "application/json": { schema: readiness } },
    },
    503: {
      description: "A required dependency is down",
      content: { "application/json": { schema: readiness } },
    },
  },
});

/** Probes one dependency; the error text is the probe's own (timeout or refused), never a secret. */
async function probe(check: () => Promise<void>, timeoutMs: number, what: string) {
  const started = performance.now();
  try {
    await withDeadline(check(), timeoutMs, what);
    return { status: "up" as const, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    const reason =
      error instanceof Error && error.name === "DeadlineExceededError"
        ? error.message
        : `${what} unreachable`;
    return { status: "down" as const, latencyMs: Math.round(performance.now() - started), error: reason };
  }
}

/** `/healthz`, `/readyz` and `/metrics` (behind a bearer token when one is configured). */
export function createOpsRoutes(options: { metricsToken?: string | undefined } = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(healthRoute, (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ status: "ok" as const }, 200);
  });

  app.openapi(readyRoute, async (c) => {
    const { db, cache, config, metrics } = c.var.services;
    const timeout = config.READINESS_TIMEOUT_MS;
    const [postgres, redis] = await Promise.all([
      probe(() => db.ping(), timeout, "postgres"),
      probe(() => cache.ping(), timeout, "redis"),
    ]);
    for (const [name, check] of Object.entries({ postgres, redis })) {
      metrics.gauge(
        "dependency_up",
        "1 when the dependency answered the last readiness probe",
        check.status === "up" ? 1 : 0,
        {
          dependency: name,
        },
      );
    }
    const checks = { postgres, redis };
    const failed = (["postgres", "redis"] as const).filter((name) => checks[name].status === "down");
    // Without Redis the redirect path still works (local cache + Postgres), so the instance stays
    // in rotation and says it is degraded; without Postgres it is taken out.
    const status = postgres.status === "down" ? "unavailable" : failed.length > 0 ? "degraded" : "ready";
    c.header("Cache-Control", "no-store");
    const body = { status, ...(failed.length > 0 ? { failed } : {}), checks } as const;
    return status === "unavailable" ? c.json(body, 503) : c.json(body, 200);
  });

  if (options.metricsToken) app.use("/metrics", bearerAuth({ token: options.metricsToken }));
  app.get("/metrics", async (c) => {
    const { metrics, collectMetrics } = c.var.services;
    const snapshots = collectMetrics ? await collectMetrics() : [metrics.snapshot()];
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return c.body(metrics.render(snapshots));
  });

  return app;
}
