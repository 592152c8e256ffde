import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import { except } from "hono/combine";
import { requestId } from "hono/request-id";
import { createExportRoutes } from "./analytics/export-routes";
import { createStatsRoutes } from "./analytics/stats-routes";
import { authenticate } from "./auth/auth-middleware";
import { createKeyRoutes } from "./auth/key-routes";
import { createTokenRoutes } from "./auth/token-routes";
import { apiBodyLimit } from "./http/api-body-limit";
import type { AppEnv } from "./http/app-env";
import { onError, onNotFound, validationHook } from "./http/problem-handlers";
import { requestMetrics } from "./http/request-metrics";
import { docsSecurityHeaders, jsonSecurityHeaders } from "./http/security-headers";
import { idempotency } from "./idempotency/idempotency-middleware";
import { createBulkImportRoutes } from "./links/bulk-import-routes";
import { createLinksRoutes } from "./links/links-routes";
import { createRedirectRoutes } from "./links/redirect-routes";
import { createOpsRoutes } from "./ops/ops-routes";
import { apiRateLimit } from "./ratelimit/rate-limit-middleware";
import type { Services } from "./services";

/**
 * Builds the whole HTTP application from injected services. It knows nothing of the runtime: the
 * Node and Worker entries build `services` and hand requests to `app.fetch`.
 *
 * @example
 * const app = createApp(createServices(platform));
 * const res = await app.request("/healthz");
 */
export function createApp(services: Services): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use(requestId());
  app.use(async function provideServices(c, next) {
    c.set("services", services);
    await next();
  });
  app.use(requestMetrics());
  const secureJson = jsonSecurityHeaders();
  for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/api/*"])
    app.use(path, secureJson);
  app.use("/docs", docsSecurityHeaders());

  app.route("/", createOpsRoutes({ metricsToken: services.config.METRICS_TOKEN }));
  // Every management route is authenticated and rate-limited per key; routes add their scope with
  // requireScope(). A rate-limited request never claims an Idempotency-Key. A bulk import streams
  // both ways, so it is not buffered for replay: it refuses the header itself. A token is never
  // stored, so token exchange is not replayed either.
  // A validator reads a body whole, and so does the idempotency check: bounded before either does,
  // and after authentication, so an anonymous client never gets a byte read. A bulk import streams
  // its body under IMPORT_MAX_BYTES instead.
  app.use(
    "/api/v1/*",
    authenticate(),
    apiRateLimit(),
    except("/api/v1/links/bulk", apiBodyLimit(services.config.API_BODY_MAX_BYTES)),
    except(["/api/v1/links/bulk", "/api/v1/auth/token"], idempotency()),
  );
  app.route("/api/v1", createKeyRoutes());
  app.route(
    "/api/v1",
    createTokenRoutes({
      defaultTtlSeconds: services.config.JWT_TTL_SECONDS,
      maxTtlSeconds: services.config.JWT_MAX_TTL_SECONDS,
    }),
  );
  app.route("/api/v1", createBulkImportRoutes());
  app.route("/api/v1", createLinksRoutes());
  app.route("/api/v1", createStatsRoutes());
  app.route("/api/v1", createExportRoutes());
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "edgelink", version: "1.0.0", description: "Short links and click analytics." },
  });
  // The interactive reference of that document: a page whose script (Swagger UI) the reader's
  // browser loads from its CDN; the server itself fetches nothing.
  app.get("/docs", swaggerUI({ url: "/openapi.json", title: "edgelink API" }));
  // The catch-all slug route goes last so that every fixed path above wins.
  app.route("/", createRedirectRoutes({ bodyMaxBytes: services.config.API_BODY_MAX_BYTES }));

  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}
