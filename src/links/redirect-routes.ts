import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { classifyVisit } from "../analytics/visit-classifier";
import { afterResponse } from "../http/after-response";
import { apiBodyLimit } from "../http/api-body-limit";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { jsonSecurityHeaders } from "../http/security-headers";
import { passwordRateLimit, redirectRateLimit } from "../ratelimit/rate-limit-middleware";
import { hasExpired, type RedirectEntry } from "./link-cache";
import { verifyLinkPassword } from "./link-password";
import { passwordForm, passwordFormHeaders } from "./password-form";
import { shortDomainOf } from "./redirect-fast-path";
import { slugSchema } from "./slug";
import { withUtm } from "./url-safety";
import { captureVisit, deviceOf, pickTarget } from "./visit";

const params = z.object({ slug: slugSchema });
const redirectResponses = {
  301: { description: "Moved permanently (per link)" },
  302: { description: "Found (the default)" },
  303: { description: "See other (after a correct password)" },
  307: { description: "Temporary redirect (per link)" },
  308: { description: "Permanent redirect (per link)" },
  400: { description: "Not a valid slug" },
  401: { description: "Password required (HTML form)" },
  404: { description: "No such link" },
  410: { description: "Expired or out of clicks" },
  503: { description: "The database is unreachable and the link is not cached" },
};

/** Seconds a client is told to wait when Postgres is down and the link was not in any cache. */
const retryAfterSeconds = 5;

/**
 * The domain a request addresses: its Host when that is one of ours, else the default domain, so a
 * deployment reached by an internal name still resolves its links.
 */
export function requestDomain(url: string, shortDomains: readonly string[]): string {
  return shortDomainOf(new URL(url).hostname, shortDomains);
}

/** A database failure on the redirect path is a 503 with Retry-After, never a 500. */
async function orUnavailable<T>(c: Context<AppEnv>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError) throw error;
    c.get("services").logger.warn("redirect lookup failed", { error, requestId: c.get("requestId") });
    throw new AppError("DEPENDENCY_UNAVAILABLE", {
      detail: "The link cannot be looked up right now.",
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
}

async function lookup(c: Context<AppEnv>, slug: string): Promise<RedirectEntry> {
  const { linkService, config, logger } = c.get("services");
  const domain = requestDomain(c.req.url, config.SHORT_DOMAINS);
  const background = (work: Promise<unknown>) =>
    afterResponse(c, work, (error) => logger.warn("background revalidation failed", { error }));
  const entry = await orUnavailable(c, () => linkService.resolve(domain, slug, background));
  if (!entry) throw new AppError("NOT_FOUND", { detail: `No link /${slug}.` });
  return entry;
}

function expired(c: Context<AppEnv>, entry: RedirectEntry, slug: string, why: string): Response {
  if (entry.expiredUrl) return c.redirect(entry.expiredUrl, 302);
  throw new AppError("GONE", { detail: `The link /${slug} ${why}.` });
}

/**
 * Serves one redirect: targeting, maxClicks (counted atomically in Postgres, so the click that
 * reaches the limit is the last one redirected), UTM, and the hand-off to analytics after the
 * response. HEAD and prefetches are answered the same way but never count.
 */
async function redirect(
  c: Context<AppEnv>,
  entry: RedirectEntry,
  slug: string,
  status?: 303,
): Promise<Response> {
  const { linkService, clickRecorder, logger } = c.get("services");
  const visit = captureVisit(c, entry);
  if (entry.maxClicks !== null) {
    // maxClicks and analytics agree on what a click is: the recorder reuses this classification.
    // Other links leave it to the recorder, after the response.
    visit.classification = classifyVisit(visit.method, visit);
    if (visit.classification.traffic === "human") {
      const allowed = await orUnavailable(c, () => linkService.consumeClick(entry.id));
      if (!allowed) return expired(c, entry, slug, "has reached its click limit");
    }
  }
  const target = withUtm(
    pickTarget(entry.url, entry.rules, { device: deviceOf(visit.userAgent), country: visit.country }),
    entry.utm,
  );
  c.header("Cache-Control", entry.cacheControl);
  const response = c.redirect(target, status ?? entry.redirectStatus);
  afterResponse(
    c,
    Promise.resolve().then(() => clickRecorder.record(visit)),
    (error) => logger.warn("click hand-off failed", { error }),
  );
  return response;
}

/**
 * `GET|HEAD /:slug`, `POST /:slug` (password) and `GET /:slug+` (preview). `bodyMaxBytes`
 * (API_BODY_MAX_BYTES) bounds a password form's body, which the validator reads whole.
 */
export function createRedirectRoutes(options: { bodyMaxBytes: number }): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const passwordBodyLimit = apiBodyLimit(options.bodyMaxBytes);

  // The preview first: `abc+` is not a valid slug, so it would otherwise fail validation below.
  app.get("/:preview{[A-Za-z0-9_-]{1,64}\\+}", jsonSecurityHeaders(), redirectRateLimit(), async (c) => {
    const slug = c.req.param("preview").slice(0, -1);
    const entry = await lookup(c, slug);
    const expiredAt = hasExpired(entry);
    return c.json({
      slug,
      domain: requestDomain(c.req.url, c.var.services.config.SHORT_DOMAINS),
      title: entry.title,
      url: entry.passwordHash ? null : withUtm(entry.url, entry.utm),
      redirectStatus: entry.redirectStatus,
      passwordProtected: entry.passwordHash !== null,
      expired: expiredAt,
    });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/{slug}",
      tags: ["redirect"],
      summary: "Follow a short link (HEAD: same, never counted)",
      middleware: [redirectRateLimit()] as const,
      request: { params },
      responses: redirectResponses,
    }),
    async (c) => {
      const { slug } = c.req.valid("param");
      const entry = await lookup(c, slug);
      if (hasExpired(entry)) return expired(c, entry, slug, "has expired");
      if (entry.passwordHash) return c.html(passwordForm(slug, { wrong: false }), 401, passwordFormHeaders);
      return redirect(c, entry, slug);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{slug}",
      tags: ["redirect"],
      summary: "Unlock a password-protected link",
      // Per client IP and link; fails closed, so guessing never speeds up when Redis is away.
      middleware: [
        passwordRateLimit(
          (c) => `${requestDomain(c.req.url, c.var.services.config.SHORT_DOMAINS)}/${c.req.param("slug")}`,
        ),
        passwordBodyLimit,
      ] as const,
      request: {
        params,
        body: {
          content: {
            "application/x-www-form-urlencoded": {
              schema: z.object({ password: z.string().min(1).max(1024) }),
            },
          },
        },
      },
      responses: redirectResponses,
    }),
    async (c) => {
      const { slug } = c.req.valid("param");
      const { password } = c.req.valid("form");
      const entry = await lookup(c, slug);
      if (hasExpired(entry)) return expired(c, entry, slug, "has expired");
      if (!entry.passwordHash) return redirect(c, entry, slug, 303);
      c.header("Cache-Control", "no-store");
      if (!(await verifyLinkPassword(password, entry.passwordHash))) {
        return c.html(passwordForm(slug, { wrong: true }), 401, passwordFormHeaders);
      }
      // 303 whatever the link's own status: a 307/308 would make the browser re-send the password.
      return redirect(c, entry, slug, 303);
    },
  );

  return app;
}
