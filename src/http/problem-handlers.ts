import type { Hook } from "@hono/zod-openapi";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { isUnavailableError } from "../platform/unavailable-error";
import type { AppEnv } from "./app-env";
import { AppError, type ErrorCode, type FieldError, toProblem } from "./errors";

/** Renders an {@link AppError} as `application/problem+json`, keeping any headers it carries. */
export function problemResponse(c: Context<AppEnv>, error: AppError): Response {
  const body = toProblem(error, c.get("requestId"), new URL(c.req.url).pathname);
  for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
  c.header("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(body), error.status as 400);
}

const statusToCode: Record<number, ErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE",
  429: "RATE_LIMITED",
  503: "DEPENDENCY_UNAVAILABLE",
  504: "TIMEOUT",
};

/**
 * What hono's validator throws for a JSON body that does not parse. It carries no other marker;
 * links.error.test.ts pins the message, so an upgrade that changes it fails loudly.
 */
const malformedJsonMessage = "Malformed JSON in request body";

/** Seconds a client is told to wait when Postgres or Redis cannot be reached. */
const unavailableRetryAfterSeconds = 5;

/** The innermost cause: for a connection failure, the socket error, without the SQL or its params. */
function rootCause(error: Error): { name: string; message: string; code?: unknown } {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && (current as { cause?: unknown }).cause instanceof Error; depth++) {
    current = (current as { cause: Error }).cause;
  }
  const { name, message, code } = current as Error & { code?: unknown };
  return { name, message, code };
}

/**
 * The one `onError`. Known errors keep their message; a backing service that cannot be reached
 * (refused or dropped connections, see `isUnavailableError`) is a 503 with Retry-After, as the
 * request may well succeed shortly; anything else is logged with the request id and answered with
 * a generic 500. Either way no stack, SQL or driver detail reaches the client.
 */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof AppError) return problemResponse(c, error);
  if (error instanceof HTTPException && error.status === 400 && error.message === malformedJsonMessage) {
    return problemResponse(c, validationFailed([{ field: "body", message: "is not valid JSON" }]));
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = statusToCode[error.status] ?? "BAD_REQUEST";
    return problemResponse(c, new AppError(code, { detail: error.message || undefined }));
  }
  if (error instanceof HTTPException && error.status === 504) {
    return problemResponse(c, new AppError("TIMEOUT"));
  }
  if (isUnavailableError(error)) {
    c.var.services?.logger.warn("dependency unavailable", {
      requestId: c.get("requestId"),
      route: c.req.routePath,
      cause: rootCause(error),
    });
    return problemResponse(
      c,
      new AppError("DEPENDENCY_UNAVAILABLE", {
        detail: "A backing service cannot be reached right now; retry shortly.",
        headers: { "Retry-After": String(unavailableRetryAfterSeconds) },
      }),
    );
  }
  c.var.services?.logger.error("unhandled error", {
    requestId: c.get("requestId"),
    route: c.req.routePath,
    error: { name: error.name, message: error.message, stack: error.stack },
  });
  return problemResponse(c, new AppError("INTERNAL", { detail: "An unexpected error occurred." }));
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(
    c,
    new AppError("NOT_FOUND", { detail: `No route for ${c.req.method} ${new URL(c.req.url).pathname}.` }),
  );

/**
 * Turns zod issues into field errors named by where they came from (`body.url`, `param.slug`). An
 * unknown key of a strict object is named itself (`body.owner`), not its parent.
 */
export function fieldErrors(target: string, error: ZodError): FieldError[] {
  const field = (path: readonly PropertyKey[]) =>
    [target === "json" ? "body" : target, ...path.map(String)].join(".");
  return error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ field: field([...issue.path, key]), message: "is not a known field" }))
      : [{ field: field(issue.path), message: issue.message }],
  );
}

/** The 400 of every invalid input: `errors` names each field, `detail` repeats them in one line. */
function validationFailed(errors: FieldError[]): AppError {
  return new AppError("VALIDATION_FAILED", {
    detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "),
    errors,
  });
}

/** The one validation hook: every route's invalid input becomes a 400 problem naming each field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  throw validationFailed(fieldErrors(result.target, result.error));
};
