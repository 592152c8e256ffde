import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { waitUntilOf } from "../http/after-response";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { onNotFound } from "../http/problem-handlers";
import type { Scope } from "./scopes";
import { looksLikeJwt, undelegableScopes } from "./token-service";

const realm = 'Bearer realm="edgelink"';
const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** One answer for every refused key, so a caller learns nothing about which keys exist. */
const invalidKey = () =>
  new AppError("UNAUTHORIZED", {
    detail: "The API key is invalid, expired or revoked.",
    headers: { "WWW-Authenticate": `${realm}, error="invalid_token"` },
  });

/** One answer for every refused token, whatever the reason (expired, tampered, another issuer…). */
const invalidToken = () =>
  new AppError("UNAUTHORIZED", {
    detail:
      "The token is invalid or has expired; exchange an API key for a new one at POST /api/v1/auth/token.",
    headers: { "WWW-Authenticate": `${realm}, error="invalid_token"` },
  });

/**
 * Whether any route, not only middleware, answers this path. `app.use` registers method ALL on a
 * wildcard path; anything else counts as a route, so an `all()` handler is still authenticated.
 */
function routeExists(c: Context<AppEnv>): boolean {
  return matchedRoutes(c).some((route) => route.method !== "ALL" || !route.path.endsWith("*"));
}

/**
 * Requires `Authorization: Bearer <api key or token>` and sets `c.var.auth`. A credential shaped
 * like a JWT is verified by signature and claims alone (no Postgres, no Redis); anything else takes
 * the API-key path. Missing or malformed credentials and refused ones answer 401 with
 * `WWW-Authenticate`; neither the credential nor the reason is logged or echoed. Paths no route serves get the
 * 404 problem without auth: the route table is public (`/openapi.json`), so that reveals nothing.
 *
 * @example
 * app.use("/api/v1/*", authenticate());
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    // Answered here rather than passed on: what follows auth (rate limits, idempotency) needs a caller.
    if (!routeExists(c)) return onNotFound(c);
    const header = c.req.header("Authorization");
    const token = header ? bearer.exec(header)?.[1] : undefined;
    if (!token) {
      throw new AppError("UNAUTHORIZED", {
        detail: "Send an API key or a token as `Authorization: Bearer <credential>`.",
        headers: { "WWW-Authenticate": realm },
      });
    }
    const { apiKeys, tokens, metrics } = c.var.services;
    if (looksLikeJwt(token)) {
      const verified = await tokens.verify(token);
      if (!verified.ok) {
        metrics.counter("api_token_refusals_total", "Tokens refused, by reason", { reason: verified.reason });
        throw invalidToken();
      }
      c.set("auth", verified.auth);
    } else {
      const result = await apiKeys.authenticate(token, { defer: waitUntilOf(c) });
      if (!result.ok) {
        metrics.counter("api_key_refusals_total", "API keys refused, by reason", { reason: result.reason });
        throw invalidKey();
      }
      c.set("auth", result.auth);
    }
    await next();
  };
}

/**
 * Lets the request through only when the caller's key holds `scope`; 403 naming it otherwise.
 * Goes after {@link authenticate} (or in a route's `middleware`, so it runs before validation).
 *
 * @example
 * createRoute({ method: "get", path: "/keys", middleware: [requireScope("keys:admin")], ... });
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async function requireScope(c, next) {
    const auth = c.get("auth");
    if (!auth) throw new AppError("UNAUTHORIZED", { headers: { "WWW-Authenticate": realm } });
    if (!auth.scopes.includes(scope)) {
      throw new AppError("FORBIDDEN", {
        detail:
          auth.credential === "token" && undelegableScopes.includes(scope)
            ? `Tokens never carry "${scope}": send the API key itself.`
            : `This ${auth.credential === "token" ? "token" : "API key"} lacks the "${scope}" scope.`,
        headers: { "WWW-Authenticate": `${realm}, error="insufficient_scope", scope="${scope}"` },
      });
    }
    await next();
  };
}
