import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { schema } from "../../../db/schema";

/** The drizzle handle every repository is written against; all three drivers satisfy it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** The rows of a raw `db.execute` answer: node-postgres and PGlite answer `{ rows }`, neon-http the rows themselves. */
export function rowsOf<Row = Record<string, unknown>>(result: unknown): Row[] {
  const answer = result as { rows?: Row[] } | Row[];
  return Array.isArray(answer) ? answer : (answer.rows ?? []);
}

export type DatabaseDriver = "pglite" | "node-postgres" | "neon-http";

/** Queries whose results {@link Database.atomic} hands back in order. */
export type AtomicQueries<R extends readonly unknown[]> = { [K in keyof R]: PromiseLike<R[K]> };

/**
 * The database port. Repositories receive it and never know which driver is behind it.
 *
 * `primary` takes writes and reads that must see them; `replica` takes reads that tolerate lag
 * (it is the primary when no replica is configured).
 */
export interface Database {
  readonly driver: DatabaseDriver;
  readonly primary: Db;
  readonly replica: Db;
  /**
   * Runs the statements built by `build` all-or-nothing. On node-postgres and PGlite this is a
   * transaction; neon-http has no interactive transactions, so there it is one HTTP batch — which
   * is why the statements are built up front and cannot depend on each other's results.
   */
  atomic<R extends readonly unknown[]>(build: (db: Db) => AtomicQueries<R>): Promise<R>;
  /** A trivial round trip to the primary; rejects when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Builds `atomic` for drivers with interactive transactions. */
export function transactionalAtomic(primary: Db): Database["atomic"] {
  return (build) =>
    primary.transaction(async (tx) => {
      const results: unknown[] = [];
      // Sequential on purpose: a transaction owns one connection.
      for (const query of build(tx as unknown as Db) as readonly PromiseLike<unknown>[]) {
        results.push(await query);
      }
      return results as never;
    });
}
