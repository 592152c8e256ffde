import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import type { ApiKey } from "./api-key-repository";
import { requireScope } from "./auth-middleware";
import { scopeSchema } from "./scopes";

const timestamp = z.iso.datetime();

const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: "First 12 characters of the key", example: "elk_4f9XqT0b" }),
    scopes: z.array(scopeSchema),
    createdAt: timestamp,
    expiresAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
    lastUsedAt: timestamp.nullable().openapi({ description: "Updated at most once a minute" }),
  })
  .openapi("ApiKey");

const createdKeySchema = apiKeySchema
  .extend({ key: z.string().openapi({ description: "The key itself. Shown in this response only." }) })
  .openapi("CreatedApiKey");

const newKeySchema = z
  .strictObject({
    // Postgres text cannot hold U+0000: refused as a 400 naming the field, not a 500 from the insert.
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .refine((name) => !name.includes("\u0000"), "must not contain NUL characters"),
    scopes: z
      .array(scopeSchema)
      .min(1)
      .refine((list) => new Set(list).size === list.length, "must not repeat a scope"),
    expiresAt: z.iso
      .datetime({ offset: true })
      .refine((value) => Date.parse(value) > Date.now(), "must be in the future")
      .nullish(),
  })
  .openapi("NewApiKey");

const keyIdParams = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

const security = [{ bearerAuth: [] }];
const adminOnly = [requireScope("keys:admin")];
const refusals = {
  401: { description: "Missing, invalid, expired or revoked API key" },
  403: { description: "The key lacks `keys:admin`" },
};

const createKeyRoute = createRoute({
  method: "post",
  path: "/keys",
  tags: ["keys"],
  summary: "Create an API key (its secret is shown once)",
  security,
  middleware: adminOnly,
  request: { body: { required: true, content: { "application/json": { schema: newKeySchema } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: createdKeySchema } } },
    400: { description: "Invalid body; `errors` names each field" },
    ...refusals,
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/keys",
  tags: ["keys"],
  summary: "List the workspace's API keys, newest first, ties by id descending (never their secrets)",
  security,
  middleware: adminOnly,
  responses: {
    200: {
      description: "The keys",
      content: { "application/json": { schema: z.object({ data: z.array(apiKeySchema) }) } },
    },
    ...refusals,
  },
});

const getKeyRoute = createRoute({
  method: "get",
  path: "/keys/{id}",
  tags: ["keys"],
  summary: "One API key of the workspace",
  security,
  middleware: adminOnly,
  request: { params: keyIdParams },
  responses: {
    200: { description: "The key", content: { "application/json": { schema: apiKeySchema } } },
    404: { description: "No such key in this workspace" },
    ...refusals,
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/keys/{id}",
  tags: ["keys"],
  summary: "Revoke an API key (at once here, everywhere within API_KEY_CACHE_TTL_SECONDS)",
  security,
  middleware: adminOnly,
  request: { params: keyIdParams },
  responses: {
    204: { description: "Revoked (revoking again is harmless)" },
    404: { description: "No such key in this workspace" },
    ...refusals,
  },
});

function toJson(key: ApiKey): z.infer<typeof apiKeySchema> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

// Ids of other workspaces' keys answer 404 exactly like unknown ids: a 403 would confirm they exist.
const noSuchKey = (id: string) =>
  new AppError("NOT_FOUND", { detail: `No API key ${id} in this workspace.` });

/**
 * `POST/GET /keys`, `GET/DELETE /keys/:id` — the caller's workspace's keys, all behind `keys:admin`.
 * Mount under `/api/v1` after the `authenticate()` middleware.
 */
export function createKeyRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`elk_…`) or a token from `POST /api/v1/auth/token`",
  });

  app.openapi(createKeyRoute, async (c) => {
    const body = c.req.valid("json");
    const { auth } = c.var;
    // A key can only hand on what it holds, so keys:admin alone cannot mint a broader key.
    const missing = body.scopes.filter((scope) => !auth.scopes.includes(scope));
    if (missing.length > 0) {
      throw new AppError("FORBIDDEN", {
        detail: `This API key cannot grant scopes it does not hold: ${missing.join(", ")}.`,
      });
    }
    const { key, record } = await c.var.services.apiKeys.create(auth.workspaceId, {
      name: body.name,
      scopes: body.scopes,
      expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
    });
    c.header("Location", `/api/v1/keys/${record.id}`);
    c.header("Cache-Control", "no-store");
    return c.json({ ...toJson(record), key }, 201);
  });

  app.openapi(listKeysRoute, async (c) => {
    const keys = await c.var.services.apiKeys.list(c.var.auth.workspaceId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: keys.map(toJson) }, 200);
  });

  app.openapi(getKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const key = await c.var.services.apiKeys.find(c.var.auth.workspaceId, id);
    if (!key) throw noSuchKey(id);
    c.header("Cache-Control", "no-store");
    return c.json(toJson(key), 200);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const key = await c.var.services.apiKeys.revoke(c.var.auth.workspaceId, id);
    if (!key) throw noSuchKey(id);
    return c.body(null, 204);
  });

  return app;
}
