/**
 * The closed list of errors edgelink can answer with. Each code has one HTTP status and one
 * RFC 9457 problem `type`; nothing else may reach a client.
 */
export const errorCodes = {
  BAD_REQUEST: { status: 400, title: "Bad request" },
  VALIDATION_FAILED: { status: 400, title: "Request validation failed" },
  UNAUTHORIZED: { status: 401, title: "Authentication required" },
  FORBIDDEN: { status: 403, title: "Forbidden" },
  NOT_FOUND: { status: 404, title: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, title: "A request is outstanding for this Idempotency-Key" },
  GONE: { status: 410, title: "Gone" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  UNPROCESSABLE: { status: 422, title: "Unprocessable content" },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: "Idempotency-Key is already used" },
  URL_BLOCKED: { status: 422, title: "Links to this host are not allowed" },
  SLUG_TAKEN: { status: 409, title: "Slug already taken" },
  PASSWORD_REQUIRED: { status: 401, title: "This link is password protected" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  INTERNAL: { status: 500, title: "Internal error" },
  DEPENDENCY_UNAVAILABLE: { status: 503, title: "Service temporarily unavailable" },
  SLUG_GENERATION_FAILED: { status: 503, title: "No free slug could be generated" },
  TIMEOUT: { status: 504, title: "Request timed out" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** Problem `type` URI of a code; stable, documented, never a stack or SQL detail. */
export function problemType(code: ErrorCode): string {
  return `https://edgelink.dev/problems/${code.toLowerCase().replaceAll("_", "-")}`;
}

export interface FieldError {
  /** Dotted path of the offending field, prefixed by where it came from (`body.url`, `query.limit`). */
  field: string;
  message: string;
}

/**
 * The one error class of the HTTP layer. Services return typed failures; routes turn them into an
 * `AppError`, and the single `onError` renders it as problem+json.
 *
 * @example
 * throw new AppError("NOT_FOUND", { detail: "No link with this id." });
 */
export class AppError extends Error {
  override name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    options: {
      detail?: string;
      errors?: FieldError[];
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(options.detail ?? errorCodes[code].title, { cause: options.cause });
    this.code = code;
    this.status = errorCodes[code].status;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string | undefined;
  instance?: string;
  errors?: FieldError[];
}

/** Builds the RFC 9457 body for an error; `detail` of an INTERNAL error is never the original message. */
export function toProblem(error: AppError, requestId: string | undefined, instance?: string): Problem {
  const { title, status } = errorCodes[error.code];
  return {
    type: problemType(error.code),
    title,
    status,
    detail: error.message,
    code: error.code,
    requestId,
    ...(instance ? { instance } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
  };
}
