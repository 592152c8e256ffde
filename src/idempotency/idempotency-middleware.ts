import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import type { Database } from "../platform/db/database";
import { idempotencyKeyMaxLength, parseIdempotencyKey, requestFingerprint } from "./idempotency-key";
import {
  type ClaimToken,
  createIdempotencyRepository,
  type IdempotencyRepository,
  type StoredResponse,
} from "./idempotency-repository";

export interface IdempotencyOptions {
  /** How long an outcome is replayed; defaults to the config's IDEMPOTENCY_TTL_SECONDS. */
  ttlSeconds?: number;
  /**
   * How long an unfinished claim blocks the key (409) before a retry may take it over: the bound
   * on a crashed holder locking a key. It must exceed the slowest handler, or a retry could run
   * the request a second time while the first is still running.
   */
  leaseSeconds?: number;
  /** Response headers kept and replayed with the body (lower case). */
  replayedHeaders?: readonly string[];
}

/** Outcomes a retry may change, so they are not remembered (besides every 5xx). */
const transientStatuses = new Set([408, 425, 429]);
/** The methods that are not idempotent by themselves; every other request passes through. */
const guardedMethods = new Set(["POST", "PATCH"]);
const nullBodyStatuses = new Set([204, 205, 304]);
const repositories = new WeakMap<Database, IdempotencyRepository>();

/**
 * `Idempotency-Key` for POST and PATCH (draft-ietf-httpapi-idempotency-key-header). Mount it after
 * authentication (keys are scoped to `c.var.auth.workspaceId`) and before the body validator, so a
 * replay answers without running validation or the handler again.
 *
 * Without the header the request passes through. With it, the first request claims the key in one
 * statement and runs; a 2xx–4xx outcome is stored and replayed byte for byte (status, body,
 * Location, Content-Type, plus `Idempotent-Replayed: true`) to every retry with the same
 * fingerprint until the TTL ends. A 5xx, a 408/425/429 or an unexpected error gives the claim up
 * so the retry runs again. Another request under the same key gets 422, a retry while the first
 * is running 409 with `Retry-After: 1`.
 *
 * @example
 * router.use("/api/v1/*", authenticate());
 * router.use("/api/v1/links", idempotency()); // GET, PUT, DELETE… pass through untouched
 * router.openapi(createLinkRoute, handler); // the route's zod validator runs after both
 */
export function idempotency(options: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const leaseSeconds = options.leaseSeconds ?? 60;
  const replayedHeaders = options.replayedHeaders ?? ["content-type", "location", "content-location"];

  return async function idempotency(c, next) {
    const header = c.req.header("Idempotency-Key");
    if (header === undefined || !guardedMethods.has(c.req.method)) return next();
    const key = parseIdempotencyKey(header);
    if (key === null) throw invalidKey();
    const workspaceId = c.var.auth?.workspaceId;
    if (!workspaceId) throw new Error("idempotency() must run after authentication: c.var.auth is not set");

    const { services } = c.var;
    const ttlSeconds = options.ttlSeconds ?? services.config.IDEMPOTENCY_TTL_SECONDS;
    const repository = repositoryFor(services.db);
    const url = new URL(c.req.url);
    // c.req.arrayBuffer() caches the body, so the route's validator still reads it afterwards.
    const requestHash = await requestFingerprint(
      c.req.method,
      url.pathname + url.search,
      await c.req.arrayBuffer(),
    );

    // A row can vanish between a refused claim and the read (released by a failed first request,
    // or pruned once expired); the key is then free, so claim again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const token = await repository.claim({ workspaceId, key, requestHash, leaseSeconds });
      if (token) {
        await runClaimed(c, next, { repository, workspaceId, key, token, ttlSeconds, replayedHeaders });
        return;
      }
      const existing = await repository.find(workspaceId, key);
      if (!existing) continue;
      if (existing.requestHash !== requestHash) {
        throw new AppError("IDEMPOTENCY_KEY_REUSED", {
          detail: "This Idempotency-Key was already used for a different request (method, path or body).",
        });
      }
      if (existing.response) return replay(c, existing.response);
      break;
    }
    throw new AppError("IDEMPOTENCY_KEY_IN_FLIGHT", {
      detail: "A request with this Idempotency-Key is still being processed; retry shortly.",
      headers: { "Retry-After": "1" },
    });
  };
}

async function runClaimed(
  c: Context<AppEnv>,
  next: () => Promise<void>,
  claim: {
    repository: IdempotencyRepository;
    workspaceId: string;
    key: string;
    token: ClaimToken;
    ttlSeconds: number;
    replayedHeaders: readonly string[];
  },
): Promise<void> {
  const { repository, workspaceId, key, token } = claim;
  const giveUp = () =>
    repository.release(workspaceId, key, token).catch((error: unknown) => {
      log(c, "error", "could not release an idempotency claim", error);
    });
  try {
    await next();
  } catch (error) {
    // Reached only without an onError: the app's onError otherwise turns errors into c.res.
    await giveUp();
    throw error;
  }
  const status = c.res.status;
  const unexpected = c.error && !(c.error instanceof AppError || c.error instanceof HTTPException);
  if (status >= 500 || transientStatuses.has(status) || unexpected) return giveUp();

  const headers: Record<string, string> = {};
  for (const name of claim.replayedHeaders) {
    const value = c.res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const body = storableBody(await c.res.clone().arrayBuffer());
  // The operation happened: a failure to remember it must not turn its answer into an error.
  const stored = await repository
    .complete(workspaceId, key, token, { status, body, headers }, claim.ttlSeconds)
    .catch((error: unknown) => {
      log(c, "error", "could not store an idempotent response", error);
      return true;
    });
  if (!stored)
    log(c, "warn", "idempotency claim was taken over before the request finished (lease too short?)");
}

function replay(c: Context<AppEnv>, stored: StoredResponse): Response {
  const body = nullBodyStatuses.has(stored.status)
    ? null
    : "text" in stored.body
      ? stored.body.text
      : Uint8Array.from(atob(stored.body.base64), (char) => char.charCodeAt(0));
  return c.newResponse(body, stored.status as 200, { ...stored.headers, "Idempotent-Replayed": "true" });
}

/**
 * The body as its exact text, so a replay is byte-identical; base64 when it is not UTF-8 or holds
 * a NUL, which a jsonb string cannot.
 */
function storableBody(bytes: ArrayBuffer): StoredResponse["body"] {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    if (!text.includes("\u0000")) return { text };
  } catch {
    // not UTF-8
  }
  return { base64: btoa(Array.from(new Uint8Array(bytes), (byte) => String.fromCharCode(byte)).join("")) };
}

function invalidKey(): AppError {
  const message = `must be 1–${idempotencyKeyMaxLength} printable ASCII characters, sent once, bare or as a quoted string`;
  return new AppError("VALIDATION_FAILED", {
    detail: `Idempotency-Key header: ${message}.`,
    errors: [{ field: "header.idempotency-key", message }],
  });
}

function repositoryFor(db: Database): IdempotencyRepository {
  let repository = repositories.get(db);
  if (!repository) {
    repository = createIdempotencyRepository(db);
    repositories.set(db, repository);
  }
  return repository;
}

function log(c: Context<AppEnv>, level: "warn" | "error", message: string, error?: unknown): void {
  c.var.services.logger[level](message, {
    requestId: c.get("requestId"),
    error: error instanceof Error ? { name: error.name, message: error.message } : undefined,
  });
}
