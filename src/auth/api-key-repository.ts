import { and, eq, getTableColumns, isNull, lt, or, sql } from "drizzle-orm";
import { apiKeys } from "../../db/schema";
import type { Database, Db } from "../platform/db/database";
import type { Scope } from "./scopes";

type Row = typeof apiKeys.$inferSelect;

/** A key as anyone may see it: everything but the hash. */
export type ApiKey = Omit<Row, "secretHash" | "scopes"> & { scopes: Scope[] };

/** What authentication needs to know about a key, looked up by the hash of the presented key. */
export type ApiKeyCredential = Pick<ApiKey, "id" | "workspaceId" | "scopes" | "expiresAt" | "revokedAt">;

export interface NewApiKey {
  workspaceId: string;
  name: string;
  prefix: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: Date | null;
}

// Every column but the hash, so no query here can hand it to a caller by accident.
const { secretHash: _hash, ...visible } = getTableColumns(apiKeys);

/**
 * Drizzle's query errors quote the parameters, which would put a key's hash in the logs. For the
 * queries that carry one, keep only the driver's own message (and its error, with its `code`).
 */
async function withoutParams<T>(what: string, work: PromiseLike<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const driver = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    throw new Error(`${what} failed${driver ? `: ${driver.message}` : ""}`, { cause: driver });
  }
}

/** The list query, built but not run: the repository awaits it and keys.indexes.test.ts EXPLAINs it. */
export const apiKeyQueries = {
  /**
   * Newest first, ties by id, revoked keys included (they show `revokedAt`). NULLS LAST as in
   * `api_keys_workspace_created_idx`: a plain `desc` means NULLS FIRST in Postgres, an order that
   * index cannot give (the columns are NOT NULL, but the planner does not use that), so the
   * workspace's keys were fetched and then sorted.
   */
  list: (db: Db, workspaceId: string) =>
    db
      .select(visible)
      .from(apiKeys)
      .where(eq(apiKeys.workspaceId, workspaceId))
      .orderBy(sql`${apiKeys.createdAt} desc nulls last`, sql`${apiKeys.id} desc nulls last`),
};

/**
 * API keys, always addressed within one workspace, except the authentication lookup, which knows
 * only the hash (the unique index `api_keys_secret_hash_key`). Every query uses the primary:
 * a replica's lag would delay revocations and hide a key just created from its creator.
 */
export function createApiKeyRepository(db: Database) {
  const ownedBy = (workspaceId: string, id: string) =>
    and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.id, id));

  return {
    async create(input: NewApiKey): Promise<ApiKey> {
      const [row] = await withoutParams(
        "api key insert",
        db.primary.insert(apiKeys).values(input).returning(visible),
      );
      return row as ApiKey;
    },

    async findByHash(secretHash: string): Promise<ApiKeyCredential | null> {
      const [row] = await withoutParams(
        "api key lookup",
        db.primary
          .select({
            id: apiKeys.id,
            workspaceId: apiKeys.workspaceId,
            scopes: apiKeys.scopes,
            expiresAt: apiKeys.expiresAt,
            revokedAt: apiKeys.revokedAt,
          })
          .from(apiKeys)
          .where(eq(apiKeys.secretHash, secretHash))
          .limit(1),
      );
      return (row as ApiKeyCredential | undefined) ?? null;
    },

    async findById(workspaceId: string, id: string): Promise<ApiKey | null> {
      const [row] = await db.primary.select(visible).from(apiKeys).where(ownedBy(workspaceId, id)).limit(1);
      return (row as ApiKey | undefined) ?? null;
    },

    /** See {@link apiKeyQueries.list}. */
    async list(workspaceId: string): Promise<ApiKey[]> {
      return (await apiKeyQueries.list(db.primary, workspaceId)) as ApiKey[];
    },

    /**
     * Marks the key revoked (keeping the first revocation time, so revoking twice is harmless) and
     * answers it with its hash, which the caller needs to evict caches; `null` when the id is not a
     * key of this workspace.
     */
    async revoke(workspaceId: string, id: string): Promise<{ key: ApiKey; secretHash: string } | null> {
      const [row] = await db.primary
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(ownedBy(workspaceId, id))
        .returning();
      if (!row) return null;
      const { secretHash, ...key } = row;
      return { key: key as ApiKey, secretHash };
    },

    /** Records a use, at most once a minute per key whichever process asks (the WHERE decides). */
    async touch(id: string, at: Date): Promise<void> {
      await db.primary
        .update(apiKeys)
        .set({ lastUsedAt: at })
        .where(
          and(
            eq(apiKeys.id, id),
            or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, new Date(at.getTime() - 60_000))),
          ),
        );
    },
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
