import { LRUCache } from "lru-cache";
import type { Cache } from "../platform/cache/cache";
import type { Logger } from "../platform/log/logger";
import { createApiKeyCache } from "./api-key-cache";
import { displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from "./api-key-format";
import type { ApiKey, ApiKeyRepository } from "./api-key-repository";
import { type AuthContext, scopes as knownScopes, type Scope } from "./scopes";

/** Why a presented key was refused. The HTTP layer answers all of them alike (no oracle). */
export type AuthFailure = "malformed" | "unknown" | "revoked" | "expired";

export type AuthResult = { ok: true; auth: AuthContext } | { ok: false; reason: AuthFailure };

export interface NewKeyInput {
  name: string;
  scopes: Scope[];
  expiresAt?: Date | null;
}

/** A key just created: `key` is the plaintext, shown to its owner this once and never again. */
export interface CreatedApiKey {
  key: string;
  record: ApiKey;
}

/** Schedules work that must outlive the request (workerd's `waitUntil`); absent on Node. */
export type Defer = (task: Promise<unknown>) => void;

const touchEveryMs = 60_000;

/**
 * API keys: minting, authenticating (cached, see {@link createApiKeyCache} for the revocation
 * bound), listing and revoking. Returns values and typed failures; the HTTP layer maps them.
 *
 * @example
 * const keys = createApiKeyService({ repository, cache, logger, localTtlSeconds: 5 });
 * const { key } = await keys.create(workspaceId, { name: "ci", scopes: ["links:write"] });
 * const result = await keys.authenticate(key); // { ok: true, auth: { workspaceId, keyId, scopes } }
 */
export function createApiKeyService(deps: {
  repository: ApiKeyRepository;
  cache: Cache;
  logger: Logger;
  localTtlSeconds: number;
  now?: () => number;
}) {
  const { repository, logger } = deps;
  const now = deps.now ?? Date.now;
  const known = new Set<string>(knownScopes);
  const keyCache = createApiKeyCache({
    cache: deps.cache,
    logger,
    localTtlSeconds: deps.localTtlSeconds,
    load: async (hash) => {
      const row = await repository.findByHash(hash);
      if (!row) return null;
      return {
        id: row.id,
        workspaceId: row.workspaceId,
        // A scope this build does not know (a newer deploy's, a hand edit) grants nothing here.
        scopes: row.scopes.filter((scope) => known.has(scope)),
        expiresAt: row.expiresAt?.getTime() ?? null,
        revoked: row.revokedAt !== null,
      };
    },
  });
  // Per-process throttle in front of the once-a-minute WHERE in `touch`, so a busy key costs one
  // UPDATE a minute per process rather than one per request.
  const touched = new LRUCache<string, true>({ max: 10_000, ttl: touchEveryMs });
  const pending = new Set<Promise<void>>();

  /** Off the request path: never awaited by it, and a failure is logged, not raised. */
  function recordUse(keyId: string, defer: Defer | undefined): void {
    if (touched.has(keyId)) return;
    touched.set(keyId, true);
    const task = repository
      .touch(keyId, new Date(now()))
      .catch((error: unknown) => {
        touched.delete(keyId);
        logger.error("could not record api key use", { keyId, error });
      })
      .finally(() => pending.delete(task));
    pending.add(task);
    defer?.(task);
  }

  return {
    async create(workspaceId: string, input: NewKeyInput): Promise<CreatedApiKey> {
      const key = generateApiKey();
      const record = await repository.create({
        workspaceId,
        name: input.name,
        scopes: [...new Set(input.scopes)],
        expiresAt: input.expiresAt ?? null,
        prefix: displayPrefix(key),
        secretHash: await hashApiKey(key),
      });
      return { key, record };
    },

    /**
     * Who `token` is. A token that is not shaped like a key, or fails its checksum, is refused
     * before any cache or database is asked.
     */
    async authenticate(token: string, options: { defer?: Defer } = {}): Promise<AuthResult> {
      if (!isWellFormedApiKey(token)) return { ok: false, reason: "malformed" };
      const credential = await keyCache.get(await hashApiKey(token));
      if (!credential) return { ok: false, reason: "unknown" };
      if (credential.revoked) return { ok: false, reason: "revoked" };
      if (credential.expiresAt !== null && credential.expiresAt <= now())
        return { ok: false, reason: "expired" };
      recordUse(credential.id, options.defer);
      return {
        ok: true,
        auth: {
          workspaceId: credential.workspaceId,
          keyId: credential.id,
          scopes: credential.scopes,
          credential: "api-key",
          keyExpiresAt: credential.expiresAt,
        },
      };
    },

    list: (workspaceId: string): Promise<ApiKey[]> => repository.list(workspaceId),

    find: (workspaceId: string, id: string): Promise<ApiKey | null> => repository.findById(workspaceId, id),

    /** `null` when `id` is not a key of this workspace, whether it exists elsewhere or not at all. */
    async revoke(workspaceId: string, id: string): Promise<ApiKey | null> {
      const revoked = await repository.revoke(workspaceId, id);
      if (!revoked) return null;
      await keyCache.markRevoked(revoked.secretHash);
      return revoked.key;
    },

    /** Settles when every last-used write started so far has finished (tests, graceful shutdown). */
    async idle(): Promise<void> {
      await Promise.allSettled([...pending]);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
