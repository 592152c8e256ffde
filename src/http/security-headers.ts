import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** Where the reader's browser loads Swagger UI from for `/docs` (@hono/swagger-ui's default). */
const docsAssets = "https://cdn.jsdelivr.net";

/**
 * hono/secure-headers for JSON answers — the API, the ops routes, the OpenAPI document, link
 * previews: nothing in them is ever to be run, framed, sniffed or sent on as a referrer. Redirects
 * do not get these: a 3xx has no body for them to guard, and the redirect path (the app's route on
 * the edge, the Node fast path) stays as small as the answer it sends.
 *
 * @example
 * app.use("/api/*", jsonSecurityHeaders());
 */
export function jsonSecurityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    xFrameOptions: "DENY",
  });
}

/** The same for `/docs`: Swagger UI's script and styles come from its CDN, its start-up script is inline. */
export function docsSecurityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: [docsAssets, "'unsafe-inline'"],
      styleSrc: [docsAssets, "'unsafe-inline'"],
      imgSrc: ["'self'", "data:", docsAssets],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
  });
}
