import { and, eq, isNull, sql } from "drizzle-orm";
import { idempotencyKeys } from "../../db/schema";
import type { Database } from "../platform/db/database";

/**
 * A response kept for replay: the body exactly as sent, as text or (when not UTF-8) base64 — always
 * wrapped in an object, since drizzle would JSON-parse a bare jsonb string a second time.
 */
export interface StoredResponse {
  status: number;
  body: { text: string } | { base64: string };
  headers: Record<string, string>;
}

/** What a key holds: the fingerprint of the request that claimed it and, once it finished, its response. */
export interface IdempotencyRecord {
  requestHash: string;
  response: StoredResponse | null;
}

/**
 * Identifies one claim of a key: its `created_at`, reset by every (re)claim. A holder whose lease
 * ran out and whose key was taken over can then no longer store into, or release, the new claim.
 */
export type ClaimToken = Date;

const seconds = (value: number) => sql`now() + make_interval(secs => ${value})`;

/**
 * Idempotency keys, scoped per workspace. Every operation is one statement, so it behaves the same
 * on PGlite, node-postgres and neon-http (no interactive transactions), and all times are the
 * database's `now()`, so app clocks never disagree about expiry.
 */
export function createIdempotencyRepository(db: Database) {
  const row = (workspaceId: string, key: string) =>
    and(eq(idempotencyKeys.workspaceId, workspaceId), eq(idempotencyKeys.key, key));

  return {
    /**
     * Claims `key` for a request in one statement: inserts it, or takes over a row whose
     * `expires_at` has passed (a remembered response past its TTL, or an in-flight claim whose
     * holder died). The claim itself lives `leaseSeconds`. Answers `null` when a live row holds the key.
     */
    async claim(input: {
      workspaceId: string;
      key: string;
      requestHash: string;
      leaseSeconds: number;
    }): Promise<ClaimToken | null> {
      const [claimed] = await db.primary
        .insert(idempotencyKeys)
        .values({
          workspaceId: input.workspaceId,
          key: input.key,
          requestHash: input.requestHash,
          expiresAt: seconds(input.leaseSeconds),
        })
        .onConflictDoUpdate({
          target: [idempotencyKeys.workspaceId, idempotencyKeys.key],
          set: {
            requestHash: input.requestHash,
            responseStatus: null,
            responseBody: null,
            responseHeaders: null,
            createdAt: sql`now()`,
            expiresAt: seconds(input.leaseSeconds),
          },
          setWhere: sql`${sql.identifier("idempotency_keys")}.${sql.identifier("expires_at")} < now()`,
        })
        .returning({ createdAt: idempotencyKeys.createdAt });
      return claimed?.createdAt ?? null;
    },

    async find(workspaceId: string, key: string): Promise<IdempotencyRecord | null> {
      const [found] = await db.primary.select().from(idempotencyKeys).where(row(workspaceId, key)).limit(1);
      if (!found) return null;
      const response =
        found.responseStatus === null
          ? null
          : {
              status: found.responseStatus,
              body: found.responseBody as StoredResponse["body"],
              headers: found.responseHeaders ?? {},
            };
      return { requestHash: found.requestHash, response };
    },

    /** Records the claim's outcome, remembered `ttlSeconds` from now. False when the claim was lost. */
    async complete(
      workspaceId: string,
      key: string,
      token: ClaimToken,
      response: StoredResponse,
      ttlSeconds: number,
    ): Promise<boolean> {
      const updated = await db.primary
        .update(idempotencyKeys)
        .set({
          responseStatus: response.status,
          responseBody: response.body,
          responseHeaders: response.headers,
          expiresAt: seconds(ttlSeconds),
        })
        .where(and(row(workspaceId, key), eq(idempotencyKeys.createdAt, token)))
        .returning({ key: idempotencyKeys.key });
      return updated.length === 1;
    },

    /** Gives an unfinished claim up so that the client's retry runs the request again. */
    async release(workspaceId: string, key: string, token: ClaimToken): Promise<void> {
      await db.primary
        .delete(idempotencyKeys)
        .where(
          and(
            row(workspaceId, key),
            eq(idempotencyKeys.createdAt, token),
            isNull(idempotencyKeys.responseStatus),
          ),
        );
    },
  };
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>;
