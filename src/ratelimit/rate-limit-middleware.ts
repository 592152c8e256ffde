import type { Context, MiddlewareHandler } from "hono";
import { waitUntilOf } from "../http/after-response";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { clientIp } from "./client-ip";
import { rateLimitHeaders } from "./rate-limit-headers";
import type { PolicyName, RateLimitDecision, RateLimiter } from "./rate-limiter";

/** Options for {@link rateLimit}. */
export interface RateLimitOptions {
  /** The policy, or how to pick it per request (e.g. reads vs writes). */
  policy: PolicyName | ((c: Context<AppEnv>) => PolicyName);
  /** Who is counted; `undefined` lets the request pass unlimited (and without rate-limit fields). */
  identify: (c: Context<AppEnv>) => string | undefined;
  /** Defaults to `c.var.services.rateLimiter`. */
  limiter?: RateLimiter;
  /** Clock for the header deltas, for tests. */
  now?: () => number;
}

function refusal(decision: RateLimitDecision, headers: Record<string, string>): AppError {
  if (decision.source === "fail-closed") {
    // Not the client's fault: the limiter could not count. 503 + Retry-After says "come back soon".
    return new AppError("DEPENDENCY_UNAVAILABLE", {
      detail: "Rate limiting is temporarily unavailable for this action; try again shortly.",
      headers,
    });
  }
  const seconds = headers["Retry-After"];
  return new AppError("RATE_LIMITED", {
    detail: `Rate limit "${decision.policy.name}" exceeded (${decision.limit} per ${decision.policy.windowMs / 1000} s); retry in ${seconds} s.`,
    headers,
  });
}

/**
 * Rate-limits the routes it is mounted on. Every response it lets through carries the rate-limit
 * fields (`RateLimit-Policy`, `RateLimit`, `RateLimit-Limit`, `-Remaining`, `-Reset`), error
 * responses from later handlers included. A refusal throws: 429 problem + `Retry-After`, or 503
 * when a fail-closed policy could not reach Redis. Failing open or closed is the policy's setting
 * (see `policiesFromConfig`), already counted and logged by the limiter.
 *
 * @example
 * app.use("/api/v1/*", rateLimit({
 *   policy: (c) => (["GET", "HEAD"].includes(c.req.method) ? "api-read" : "api-write"),
 *   identify: (c) => c.var.auth.keyId,
 * }));
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const pickPolicy =
    typeof options.policy === "function" ? options.policy : () => options.policy as PolicyName;
  return async function rateLimitMiddleware(c, next) {
    const identifier = options.identify(c);
    if (identifier === undefined) return next();
    const limiter = options.limiter ?? c.get("services").rateLimiter;
    const decision = await limiter.limit(pickPolicy(c), identifier);
    if (decision.pending) waitUntilOf(c)?.(decision.pending);
    const headers = rateLimitHeaders(decision, options.now?.() ?? Date.now());
    if (!decision.allowed) {
      c.get("services")?.metrics.counter(
        "rate_limit_refusals_total",
        "Requests refused by a rate-limit policy, by policy and who decided",
        { policy: decision.policy.name, source: decision.source },
      );
      throw refusal(decision, headers);
    }
    await next();
    // On the finished response (errors from later handlers included): one write per field, where
    // `c.header` before `next` would have them validated twice (prepared, then copied).
    try {
      const target = c.res.headers;
      for (const name in headers) target.set(name, headers[name]!);
    } catch {
      // An immutable response (one passed through from `fetch`): `c.header` copies it first.
      for (const name in headers) c.header(name, headers[name]);
    }
  };
}

/**
 * Redirects: per client IP (see `clientIp`), local-first when Redis is configured.
 *
 * @example
 * createRoute({ method: "get", path: "/{slug}", middleware: [redirectRateLimit()] as const, ... });
 */
export function redirectRateLimit(): MiddlewareHandler<AppEnv> {
  return rateLimit({ policy: "redirect", identify: clientIp });
}

/**
 * The API: per API key, reads (GET, HEAD: `api-read`) and writes (everything else: `api-write`)
 * counted apart. Mount it after the auth middleware; before it, every request throws.
 *
 * @example
 * api.use("/api/v1/*", authenticate(), apiRateLimit());
 */
export function apiRateLimit(): MiddlewareHandler<AppEnv> {
  return rateLimit({
    policy: (c) => (c.req.method === "GET" || c.req.method === "HEAD" ? "api-read" : "api-write"),
    identify: (c) => {
      const auth = c.get("auth");
      if (!auth)
        throw new Error("apiRateLimit() runs before authentication: mount it after the auth middleware");
      return auth.keyId;
    },
  });
}

/**
 * Password attempts: per client IP and link, so that guessing one link's password is slow while
 * other links (and other clients) are unaffected. `link` names the link, e.g. its domain and slug.
 * Fails closed: without Redis answering, attempts get 503 + Retry-After.
 *
 * @example
 * createRoute({ method: "post", path: "/{slug}", middleware: [passwordRateLimit((c) => c.req.param("slug"))] as const, ... });
 */
export function passwordRateLimit(link: (c: Context<AppEnv>) => string): MiddlewareHandler<AppEnv> {
  return rateLimit({ policy: "password", identify: (c) => `${clientIp(c)}|${link(c)}` });
}
