import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { slugSchema } from "./slug";

const redirectRoute = createRoute({
  method: "get",
  path: "/{slug}",
  tags: ["redirect"],
  summary: "Follow a short link",
  request: { params: z.object({ slug: slugSchema }) },
  responses: {
    301: { description: "Moved permanently (per link)" },
    302: { description: "Found (default)" },
    307: { description: "Temporary redirect (per link)" },
    308: { description: "Permanent redirect (per link)" },
    400: { description: "Not a valid slug" },
    404: { description: "No such link" },
    410: { description: "Expired" },
  },
});

/**
 * The domain a request addresses: its Host when that is one of ours, else the default domain, so a
 * deployment reached by an internal name still resolves its links.
 */
export function requestDomain(url: string, shortDomains: readonly string[]): string {
  const host = new URL(url).hostname.toLowerCase();
  return shortDomains.includes(host) ? host : shortDomains[0]!;
}

/** `GET /:slug` — the redirect. */
export function createRedirectRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(redirectRoute, async (c) => {
    const { slug } = c.req.valid("param");
    const { links, config } = c.var.services;
    const link = await links.findBySlug(requestDomain(c.req.url, config.SHORT_DOMAINS), slug);
    if (!link) throw new AppError("NOT_FOUND", { detail: `No link /${slug}.` });
    if (link.expiresAt && link.expiresAt.getTime() <= Date.now()) {
      if (link.expiredUrl) return c.redirect(link.expiredUrl, 302);
      throw new AppError("GONE", { detail: `The link /${slug} has expired.` });
    }
    c.header("Cache-Control", link.cacheControl);
    return c.redirect(link.url, link.redirectStatus);
  });

  return app;
}
