import { LRUCache } from "lru-cache";
import type { Cache } from "../platform/cache/cache";
import { withDeadline } from "../platform/deadline";
import { errorMessage } from "../platform/log/error-message";
import type { Logger } from "../platform/log/logger";
import type { Scope } from "./scopes";

/** What the API path needs about a key, in a JSON-safe shape (it is stored in Redis). */
export interface CachedCredential {
  id: string;
  workspaceId: string;
  scopes: Scope[];
  /** Epoch milliseconds; checked on every request, so expiry never waits for a cache to turn over. */
  expiresAt: number | null;
  revoked: boolean;
}

/** `found: null` is a remembered miss (no key has this hash). */
type Entry = { found: CachedCredential | null };

export interface ApiKeyCacheOptions {
  cache: Cache;
  logger: Logger;
  /** The source of truth, asked when neither tier knows the hash. */
  load(secretHash: string): Promise<CachedCredential | null>;
  /** In-process TTL: the bound on how long another instance may still accept a revoked key. */
  localTtlSeconds: number;
  localMaxEntries?: number;
  sharedTtlSeconds?: number;
  negativeTtlSeconds?: number;
  /** How long a Redis answer may take before Postgres is asked instead. */
  sharedBudgetMs?: number;
}

const recordKey = (hash: string) => `apikey:v1:${hash}`;
const revokedKey = (hash: string) => `apikey:v1:revoked:${hash}`;

/** Redis client errors quote the command, key name (the hash) included; logs get them without it. */
function scrubbed(error: unknown): Error {
  const message = errorMessage(error);
  const safe = new Error(message.replace(/[0-9a-f]{64}/g, "[key-hash]"));
  safe.name = error instanceof Error ? error.name : "Error";
  return safe;
}

/**
 * Key lookups by hash through three tiers: an in-process LRU (TTL `localTtlSeconds`, default 5 s)
 * → the shared Cache (Redis, 5 min; misses 30 s) → Postgres. Concurrent misses for one hash share
 * a single load.
 *
 * Revocation, the invariant every choice here serves:
 * - On the instance that revokes it is at once: the local entry goes and the hash joins
 *   `revokedHere`, which also overrides a stale answer from a lookup that was already in flight.
 * - Elsewhere it is within `localTtlSeconds` (plus the length of a lookup already in flight): the
 *   Redis entry is deleted and a revocation marker set, so when the local entry lapses the next
 *   read sees it. The marker outlives any positive Redis entry, because another instance may
 *   re-fill the record from a read that began before the revocation committed.
 * - A per-process Cache (no Redis configured) is not shared, and a 5-min tier there would stretch
 *   the bound, so it is skipped and the local tier alone fronts Postgres.
 * Redis failures never fail a lookup: Postgres answers instead.
 */
export function createApiKeyCache(options: ApiKeyCacheOptions) {
  const { cache, logger } = options;
  const max = options.localMaxEntries ?? 10_000;
  const sharedTtl = options.sharedTtlSeconds ?? 300;
  const negativeTtl = options.negativeTtlSeconds ?? 30;
  const budgetMs = options.sharedBudgetMs ?? 250;
  const shared = cache.kind !== "memory";
  // lru-cache reads ttl 0 as "never expires", so a zero TTL means no local tier at all.
  const local =
    options.localTtlSeconds > 0
      ? new LRUCache<string, Entry>({ max, ttl: options.localTtlSeconds * 1000 })
      : undefined;
  const revokedHere = new LRUCache<string, true>({ max, ttl: (sharedTtl + 60) * 1000 });
  const inflight = new Map<string, Promise<Entry>>();

  async function readShared(hash: string): Promise<Entry | undefined> {
    if (!shared) return undefined;
    try {
      const [entry, revoked] = await withDeadline(
        Promise.all([cache.get<Entry>(recordKey(hash)), cache.get<number>(revokedKey(hash))]),
        budgetMs,
        "redis",
      );
      if (!entry) return undefined;
      return revoked && entry.found ? { found: { ...entry.found, revoked: true } } : entry;
    } catch (error) {
      logger.warn("api key cache read failed; asking Postgres", { error: scrubbed(error) });
      return undefined;
    }
  }

  async function writeShared(hash: string, entry: Entry): Promise<void> {
    if (!shared) return;
    const ttlSeconds = entry.found ? sharedTtl : negativeTtl;
    try {
      await withDeadline(cache.set(recordKey(hash), entry, { ttlSeconds }), budgetMs, "redis");
    } catch (error) {
      logger.warn("api key cache write failed", { error: scrubbed(error) });
    }
  }

  async function resolve(hash: string): Promise<Entry> {
    const cached = await readShared(hash);
    if (cached) return cached;
    const entry = { found: await options.load(hash) };
    await writeShared(hash, entry);
    return entry;
  }

  return {
    /** The key with this hash, or `null` when there is none. */
    async get(hash: string): Promise<CachedCredential | null> {
      let entry = local?.get(hash);
      if (!entry) {
        let pending = inflight.get(hash);
        if (!pending) {
          pending = resolve(hash).finally(() => inflight.delete(hash));
          inflight.set(hash, pending);
        }
        entry = await pending;
        local?.set(hash, entry);
      }
      const found = entry.found;
      return found && revokedHere.has(hash) ? { ...found, revoked: true } : found;
    },

    /**
     * Call after the revocation is committed. Rejects when Redis cannot be told; revoking again
     * is harmless, so the caller can retry.
     */
    async markRevoked(hash: string): Promise<void> {
      revokedHere.set(hash, true);
      local?.delete(hash);
      if (!shared) return;
      await Promise.all([
        cache.set(revokedKey(hash), 1, { ttlSeconds: sharedTtl + 60 }),
        cache.delete(recordKey(hash)),
      ]).catch((error: unknown) => {
        throw scrubbed(error);
      });
    },
  };
}

export type ApiKeyCache = ReturnType<typeof createApiKeyCache>;
