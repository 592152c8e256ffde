import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { scopeSchema } from "./scopes";
import type { IssueFailure } from "./token-service";

/** Tokens come from API keys only: a token cannot renew itself into a chain that never ends. */
const apiKeyOnly: MiddlewareHandler<AppEnv> = async function apiKeyOnly(c, next) {
  if (c.var.auth.credential !== "api-key") throw refusal({ reason: "not-an-api-key" });
  await next();
};

function refusal(failure: IssueFailure): AppError {
  switch (failure.reason) {
    case "disabled":
      return new AppError("DEPENDENCY_UNAVAILABLE", {
        detail: "Token exchange is not configured on this deployment (JWT_SECRET is unset).",
      });
    case "not-an-api-key":
      return new AppError("FORBIDDEN", {
        detail: "A token cannot be exchanged for another token: send the API key itself.",
      });
    case "undelegable":
      return new AppError("FORBIDDEN", {
        detail: `Tokens never carry ${failure.scopes.join(", ")}: key management takes the API key itself.`,
      });
    case "not-held":
      return new AppError("FORBIDDEN", {
        detail: `This API key cannot grant scopes it does not hold: ${failure.scopes.join(", ")}.`,
      });
    case "no-delegable-scope":
      return new AppError("FORBIDDEN", {
        detail: "This API key holds no scope a token can carry (keys:admin never goes into a token).",
      });
  }
}

/**
 * `POST /auth/token` — an API key in, a short-lived signed token (JWT, HS256) out. Mount under
 * `/api/v1` after `authenticate()`; `maxTtlSeconds` bounds `ttlSeconds` in the schema (and so in
 * `/openapi.json`).
 */
export function createTokenRoutes(options: { defaultTtlSeconds: number; maxTtlSeconds: number }) {
  const requestSchema = z
    .strictObject({
      scopes: z
        .array(scopeSchema)
        .min(1)
        .refine((list) => new Set(list).size === list.length, "must not repeat a scope")
        .optional()
        .openapi({ description: "A subset of the key's scopes (default: all of them but keys:admin)" }),
      ttlSeconds: z
        .number()
        .int()
        .min(30)
        .max(options.maxTtlSeconds)
        .optional()
        .openapi({ description: `Lifetime in seconds (default ${options.defaultTtlSeconds})` }),
    })
    .openapi("TokenRequest");

  const tokenSchema = z
    .object({
      token: z.string().openapi({ description: "Send as `Authorization: Bearer <token>`" }),
      tokenType: z.literal("Bearer"),
      expiresAt: z.iso.datetime(),
      expiresIn: z.number().int().openapi({ description: "The token's lifetime in seconds" }),
      scopes: z.array(scopeSchema),
    })
    .openapi("Token");

  const route = createRoute({
    method: "post",
    path: "/auth/token",
    tags: ["auth"],
    summary: "Exchange an API key for a short-lived token",
    description: [
      "Answers a signed JWT (HS256) for the calling API key's workspace, with the requested scopes",
      "(never more than the key holds, never `keys:admin`). Every management route accepts it as",
      "`Authorization: Bearer <token>` and verifies it by signature alone: no database or cache is",
      "asked. **Revocation bound:** revoking the key does not end its tokens; each stays valid until",
      "its `exp` (at most the configured maximum lifetime, and never past the key's own expiry).",
      "A token cannot be exchanged for another, and `/keys` routes take the API key itself.",
      "Not replayed by `Idempotency-Key`: every call mints a new token, and none is stored.",
    ].join(" "),
    security: [{ bearerAuth: [] }],
    middleware: [apiKeyOnly],
    request: {
      body: { required: false, content: { "application/json": { schema: requestSchema } } },
    },
    responses: {
      200: { description: "The token", content: { "application/json": { schema: tokenSchema } } },
      400: { description: "Invalid body; `errors` names each field" },
      401: { description: "Missing, invalid, expired or revoked API key" },
      403: { description: "Called with a token, or asked for scopes the key lacks or `keys:admin`" },
      503: { description: "Token exchange is not configured (no JWT_SECRET on this deployment)" },
    },
  });

  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const issued = await c.var.services.tokens.issue(c.var.auth, body);
    if (!issued.ok) throw refusal(issued);
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json(
      {
        token: issued.token,
        tokenType: "Bearer" as const,
        expiresAt: issued.expiresAt.toISOString(),
        expiresIn: issued.expiresIn,
        scopes: issued.scopes,
      },
      200,
    );
  });
  return app;
}
