import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth/auth-middleware";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import {
  createLinkSchema,
  linkCursor,
  linkIdParams,
  linkSchema,
  listLinksQuery,
  presentLink,
  qrQuery,
  shortUrl,
  updateLinkSchema,
} from "./link-schemas";
import type { LinkFailure, LinkResult } from "./link-service";
import { renderQr } from "./qr-code";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const problems = {
  400: { description: "Invalid input" },
  401: { description: "No valid API key" },
  403: { description: "Missing scope" },
  404: { description: "No such link in this workspace" },
};

/** Turns a service failure into the one error model; foreign ids are plain 404s. */
function unwrap<T>(result: LinkResult<T>): T {
  if (result.ok) return result.value;
  throw toError(result.failure);
}

/** The problem a link failure answers with; a bulk import reports the same per line. */
export function toError(failure: LinkFailure): AppError {
  switch (failure.kind) {
    case "not-found":
      return new AppError("NOT_FOUND", { detail: "No link with this id." });
    case "slug-taken":
      return new AppError("SLUG_TAKEN", {
        detail: `The slug ${failure.slug} is already taken on this domain.`,
      });
    case "no-free-slug":
      return new AppError("SLUG_GENERATION_FAILED", {
        detail: `No free slug was found in ${failure.attempts} attempts; retry, or choose a slug.`,
        headers: { "Retry-After": "1" },
      });
    case "unknown-domain":
      return new AppError("VALIDATION_FAILED", {
        detail: `body.domain: ${failure.domain} is not one of this service's short domains`,
        errors: [{ field: "body.domain", message: "is not one of this service's short domains" }],
      });
    case "unsafe-url": {
      const errors = [{ field: `body.${failure.field}`, message: failure.detail }];
      const detail = `body.${failure.field}: ${failure.detail}`;
      return failure.reason === "blocked"
        ? new AppError("URL_BLOCKED", { detail, errors })
        : new AppError("VALIDATION_FAILED", { detail, errors });
    }
  }
}

const createLink = createRoute({
  method: "post",
  path: "/links",
  tags: ["links"],
  summary: "Create a link (honours Idempotency-Key)",
  middleware: [requireScope("links:write")] as const,
  request: { body: { required: true, content: { "application/json": { schema: createLinkSchema } } } },
  responses: {
    201: json(linkSchema, "Created"),
    409: { description: "Slug taken" },
    422: { description: "URL refused" },
    503: { description: "No free slug could be generated (retry), or a backing service is down" },
    ...problems,
  },
});
const listLinks = createRoute({
  method: "get",
  path: "/links",
  tags: ["links"],
  summary: "List links, newest first (keyset pagination)",
  middleware: [requireScope("links:read")] as const,
  request: { query: listLinksQuery },
  responses: {
    200: json(z.object({ data: z.array(linkSchema), nextCursor: z.string().nullable() }), "A page"),
    ...problems,
  },
});
const getLink = createRoute({
  method: "get",
  path: "/links/{id}",
  tags: ["links"],
  summary: "Get a link",
  middleware: [requireScope("links:read")] as const,
  request: { params: linkIdParams },
  responses: { 200: json(linkSchema, "The link"), ...problems },
});
const patchLink = createRoute({
  method: "patch",
  path: "/links/{id}",
  tags: ["links"],
  summary: "Change a link (visible on the redirect path at once here, elsewhere within the local cache TTL)",
  middleware: [requireScope("links:write")] as const,
  request: {
    params: linkIdParams,
    body: { required: true, content: { "application/json": { schema: updateLinkSchema } } },
  },
  responses: {
    200: json(linkSchema, "The changed link"),
    409: { description: "Slug taken" },
    422: { description: "URL refused" },
    ...problems,
  },
});
const deleteLink = createRoute({
  method: "delete",
  path: "/links/{id}",
  tags: ["links"],
  summary: "Delete a link",
  middleware: [requireScope("links:write")] as const,
  request: { params: linkIdParams },
  responses: { 204: { description: "Deleted" }, ...problems },
});
const linkQr = createRoute({
  method: "get",
  path: "/links/{id}/qr",
  tags: ["links"],
  summary: "QR code of the short URL",
  middleware: [requireScope("links:read")] as const,
  request: { params: linkIdParams, query: qrQuery },
  responses: {
    200: {
      description: "SVG or PNG",
      content: { "image/svg+xml": { schema: z.string() }, "image/png": { schema: z.string() } },
    },
    ...problems,
  },
});

/** The links resource under `/api/v1` (auth, scopes and rate limits are mounted by the app). */
export function createLinksRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(createLink, async (c) => {
    const link = unwrap(await c.var.services.linkService.create(c.var.auth.workspaceId, c.req.valid("json")));
    c.header("Location", `/api/v1/links/${link.id}`);
    return c.json(presentLink(link, c.var.services.config.PORT), 201);
  });

  app.openapi(listLinks, async (c) => {
    const { cursor: raw, ...query } = c.req.valid("query");
    const cursor = raw === undefined ? undefined : linkCursor.decode(raw);
    if (cursor === null) {
      throw new AppError("VALIDATION_FAILED", {
        detail: "query.cursor: is not a cursor this API issued",
        errors: [{ field: "query.cursor", message: "is not a cursor this API issued" }],
      });
    }
    const page = await c.var.services.linkService.list(c.var.auth.workspaceId, { ...query, cursor });
    return c.json(
      {
        data: page.rows.map((link) => presentLink(link, c.var.services.config.PORT)),
        nextCursor: page.nextCursor ? linkCursor.encode(page.nextCursor) : null,
      },
      200,
    );
  });

  app.openapi(getLink, async (c) => {
    const link = unwrap(
      await c.var.services.linkService.get(c.var.auth.workspaceId, c.req.valid("param").id),
    );
    return c.json(presentLink(link, c.var.services.config.PORT), 200);
  });

  app.openapi(patchLink, async (c) => {
    const { id } = c.req.valid("param");
    const link = unwrap(
      await c.var.services.linkService.update(c.var.auth.workspaceId, id, c.req.valid("json")),
    );
    return c.json(presentLink(link, c.var.services.config.PORT), 200);
  });

  app.openapi(deleteLink, async (c) => {
    unwrap(await c.var.services.linkService.remove(c.var.auth.workspaceId, c.req.valid("param").id));
    return c.body(null, 204);
  });

  app.openapi(linkQr, async (c) => {
    const link = unwrap(
      await c.var.services.linkService.get(c.var.auth.workspaceId, c.req.valid("param").id),
    );
    const { format, size } = c.req.valid("query");
    const qr = await renderQr(shortUrl(link.domain, link.slug, c.var.services.config.PORT), { format, size });
    c.header("Content-Type", qr.contentType);
    c.header("Cache-Control", "private, max-age=300");
    return c.body(qr.body as never, 200);
  });

  return app;
}
