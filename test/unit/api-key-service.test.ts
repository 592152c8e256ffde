import { describe, expect, it, vi } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import type { ApiKey, ApiKeyCredential, ApiKeyRepository } from "../../src/auth/api-key-repository";
import { createApiKeyService } from "../../src/auth/api-key-service";
import type { Cache } from "../../src/platform/cache/cache";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import { createLogger } from "../../src/platform/log/logger";

/** A Redis stand-in: shared by every "instance" given it, counting what reaches it. */
function sharedCache(inner = new MemoryCache()): Cache & { calls: number } {
  const spy = {
    kind: "redis-tcp" as const,
    calls: 0,
    get(key: string) {
      spy.calls++;
      return inner.get(key);
    },
    set(key: string, value: unknown, options?: { ttlSeconds?: number }) {
      spy.calls++;
      return inner.set(key, value, options);
    },
    delete(...keys: string[]) {
      spy.calls++;
      return inner.delete(...keys);
    },
    increment(key: string, by?: number) {
      spy.calls++;
      return inner.increment(key, by);
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return spy as Cache & { calls: number };
}

/** Postgres stand-in with the repository's contract; `lookups` counts authentication reads. */
function memoryRepository() {
  const rows = new Map<string, ApiKey & { secretHash: string }>();
  let gate: Promise<void> | undefined;
  const repo = {
    lookups: 0,
    touches: [] as string[],
    hold(until: Promise<void>) {
      gate = until;
    },
    async create(input: Parameters<ApiKeyRepository["create"]>[0]) {
      const row = {
        ...input,
        id: crypto.randomUUID(),
        createdAt: new Date(),
        revokedAt: null,
        lastUsedAt: null,
      };
      rows.set(row.id, row);
      const { secretHash: _, ...key } = row;
      return key;
    },
    async findByHash(hash: string): Promise<ApiKeyCredential | null> {
      repo.lookups++;
      const row = [...rows.values()].find((r) => r.secretHash === hash);
      const snapshot = row && { ...row };
      await gate;
      return snapshot ?? null;
    },
    async revoke(workspaceId: string, id: string) {
      const row = rows.get(id);
      if (!row || row.workspaceId !== workspaceId) return null;
      row.revokedAt ??= new Date();
      const { secretHash, ...key } = row;
      return { key, secretHash };
    },
    async touch(id: string) {
      repo.touches.push(id);
    },
    findById: async () => null,
    list: async () => [],
  };
  return repo;
}

function service(
  repo: ReturnType<typeof memoryRepository>,
  cache: Cache,
  extra: { now?: () => number } = {},
) {
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const keys = createApiKeyService({
    repository: repo as unknown as ApiKeyRepository,
    cache,
    logger,
    localTtlSeconds: 0.2,
    ...extra,
  });
  return Object.assign(keys, { logs });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const workspaceId = "00000000-0000-4000-8000-000000000001";

describe("API key service", () => {
  it("refuses a mistyped or invented key without asking the cache or the database", async () => {
    const repo = memoryRepository();
    const cache = sharedCache();
    const keys = service(repo, cache);
    const real = generateApiKey();
    for (const token of [`${real.slice(0, 20)}X${real.slice(21)}`, "elk_nope", "ghp_abc", ""]) {
      expect(await keys.authenticate(token)).toEqual({ ok: false, reason: "malformed" });
    }
    expect(repo.lookups).toBe(0);
    expect(cache.calls).toBe(0);
  });

  it("serves repeat lookups from the process, then from Redis, and remembers unknown keys", async () => {
    const repo = memoryRepository();
    const cache = sharedCache();
    const a = service(repo, cache);
    const { key } = await a.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    const results = await Promise.all(Array.from({ length: 5 }, () => a.authenticate(key)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(repo.lookups).toBe(1); // concurrent misses share one load

    const b = service(repo, cache);
    expect((await b.authenticate(key)).ok).toBe(true);
    expect(repo.lookups).toBe(1); // the second instance found it in Redis

    const unknown = generateApiKey();
    expect(await a.authenticate(unknown)).toEqual({ ok: false, reason: "unknown" });
    expect(await b.authenticate(unknown)).toEqual({ ok: false, reason: "unknown" });
    expect(repo.lookups).toBe(2);
  });

  it("refuses a revoked key at once here, and on another instance once its local TTL lapses", async () => {
    const repo = memoryRepository();
    const cache = sharedCache();
    const [a, b] = [service(repo, cache), service(repo, cache)];
    const { key, record } = await a.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    expect((await b.authenticate(key)).ok).toBe(true);
    await a.revoke(workspaceId, record.id);
    expect(await a.authenticate(key)).toEqual({ ok: false, reason: "revoked" });
    await sleep(250);
    expect(await b.authenticate(key)).toEqual({ ok: false, reason: "revoked" });
  });

  it("is not fooled by a lookup that read the key before its revocation committed", async () => {
    const repo = memoryRepository();
    const cache = sharedCache();
    const [a, b] = [service(repo, cache), service(repo, cache)];
    const { key, record } = await a.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    let release!: () => void;
    repo.hold(new Promise<void>((done) => (release = done)));
    // Both instances read the row while it is live, then the revocation lands, then they finish.
    const [here, there] = [a.authenticate(key), b.authenticate(key)];
    await sleep(10);
    await a.revoke(workspaceId, record.id);
    release();
    expect(await here).toEqual({ ok: false, reason: "revoked" });
    expect((await there).ok).toBe(true); // a read that began before the revocation: allowed once
    // Its stale answer went to Redis too, but the revocation marker outranks it.
    await sleep(250);
    expect(await b.authenticate(key)).toEqual({ ok: false, reason: "revoked" });
    expect(await service(repo, cache).authenticate(key)).toEqual({ ok: false, reason: "revoked" });
  });

  it("refuses an expired key from its cached record, with no new lookup", async () => {
    const repo = memoryRepository();
    let now = Date.now();
    const keys = service(repo, sharedCache(), { now: () => now });
    const { key } = await keys.create(workspaceId, {
      name: "short",
      scopes: ["links:read"],
      expiresAt: new Date(now + 1_000),
    });
    expect((await keys.authenticate(key)).ok).toBe(true);
    now += 1_000;
    expect(await keys.authenticate(key)).toEqual({ ok: false, reason: "expired" });
    expect(repo.lookups).toBe(1);
  });

  it("records use at most once a minute per key, off the request path, and survives a failed write", async () => {
    const repo = memoryRepository();
    const keys = service(repo, sharedCache());
    const { key, record } = await keys.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    const deferred: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) await keys.authenticate(key, { defer: (task) => deferred.push(task) });
    await keys.idle();
    expect(repo.touches).toEqual([record.id]);
    expect(deferred).toHaveLength(1);

    const failing = memoryRepository();
    failing.touch = vi.fn().mockRejectedValue(new Error("connection reset"));
    const other = service(failing, sharedCache());
    const created = await other.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    expect((await other.authenticate(created.key)).ok).toBe(true);
    await other.idle();
    expect(other.logs.join("\n")).toContain("could not record api key use");
    expect(other.logs.join("\n")).not.toContain(created.key);
  });

  it("falls back to Postgres when Redis fails, and never caches in a per-process 'shared' tier", async () => {
    const repo = memoryRepository();
    const broken = sharedCache();
    // Like @upstash/redis, the error quotes the command, key name and all.
    const refuse = (key: string) => Promise.reject(new Error(`ECONNREFUSED, command was: ["get","${key}"]`));
    broken.get = refuse;
    broken.set = refuse;
    broken.delete = refuse;
    const keys = service(repo, broken);
    const { key, record } = await keys.create(workspaceId, { name: "ci", scopes: ["links:read"] });
    expect((await keys.authenticate(key)).ok).toBe(true);
    const revoking = keys.revoke(workspaceId, record.id);
    await expect(revoking).rejects.toThrow("[key-hash]");
    expect(await keys.authenticate(key)).toEqual({ ok: false, reason: "revoked" });
    expect(keys.logs.join("\n")).toContain("api key cache read failed");
    expect(keys.logs.join("\n")).toContain("[key-hash]");
    expect(keys.logs.join("\n")).not.toContain(await hashApiKey(key));

    const memory = new MemoryCache();
    const set = vi.spyOn(memory, "set");
    const local = service(memoryRepository(), memory);
    await local.authenticate(generateApiKey());
    expect(set).not.toHaveBeenCalled();
    expect(await memory.get(`apikey:v1:${await hashApiKey(key)}`)).toBeNull();
  });
});
