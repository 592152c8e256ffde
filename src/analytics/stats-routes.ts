import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { requireScope } from "../auth/auth-middleware";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { linkIdParams } from "../links/link-schemas";
import type { Services } from "../services";
import { statsQuery, statsSchema } from "./stats-schemas";
import { createStatsService, type StatsService } from "./stats-service";

const linkStats = createRoute({
  method: "get",
  path: "/links/{id}/stats",
  tags: ["analytics"],
  summary: "Clicks of a link: totals, uniques, bots and previews apart, a zero-filled series, breakdowns",
  description:
    "Served from rollups, so the cost follows the number of buckets, not of clicks. Answers are cached for STATS_CACHE_SECONDS (and say so in Cache-Control). Ranges: at most 31 days with interval=hour, 731 days with interval=day.",
  middleware: [requireScope("analytics:read")] as const,
  request: { params: linkIdParams, query: statsQuery },
  responses: {
    200: { description: "The stats", content: { "application/json": { schema: statsSchema } } },
    400: { description: "Invalid range or parameter" },
    401: { description: "No valid API key" },
    403: { description: "Missing scope" },
    404: { description: "No such link in this workspace" },
  },
});

/** One stats service per set of services (per process or isolate), built on first use. */
const services = new WeakMap<Services, StatsService>();
function statsServiceOf(all: Services): StatsService {
  let service = services.get(all);
  if (!service) {
    service = createStatsService(all);
    services.set(all, service);
  }
  return service;
}

/** `GET /links/:id/stats` under `/api/v1` (auth and rate limits are mounted by the app). */
export function createStatsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(linkStats, async (c) => {
    const service = statsServiceOf(c.var.services);
    const result = await service.linkStats(
      c.var.auth.workspaceId,
      c.req.valid("param").id,
      c.req.valid("query"),
    );
    if (!result.ok) {
      const { failure } = result;
      if (failure.kind === "not-found") throw new AppError("NOT_FOUND", { detail: "No link with this id." });
      throw new AppError("VALIDATION_FAILED", {
        detail: `${failure.field}: ${failure.message}`,
        errors: [{ field: failure.field, message: failure.message }],
      });
    }
    c.header("Cache-Control", service.ttlSeconds > 0 ? `private, max-age=${service.ttlSeconds}` : "no-store");
    return c.json(result.value, 200);
  });

  return app;
}
