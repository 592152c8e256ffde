import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { schema } from "../../../db/schema";
import type { Logger } from "../log/logger";
import { type Database, type Db, transactionalAtomic } from "./database";

/**
 * A bounded `pg` Pool per process (so a cluster of N workers holds at most N × max connections),
 * plus one pool per read replica; reads that tolerate lag rotate over the replicas.
 */
export function createNodePostgresDatabase(options: {
  url: string;
  replicaUrls?: string[];
  poolMax: number;
  statementTimeoutMs: number;
  logger?: Logger;
}): Database & { pools: pg.Pool[] } {
  const makePool = (connectionString: string, role: string) => {
    const pool = new pg.Pool({
      connectionString,
      max: options.poolMax,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs,
      application_name: `edgelink-${role}`,
    });
    // An idle client dropped by the server must not take the process down; the pool replaces it.
    pool.on("error", (error) => options.logger?.warn("postgres idle client error", { role, error }));
    return pool;
  };
  const primaryPool = makePool(options.url, "primary");
  const replicaPools = (options.replicaUrls ?? []).map((url, i) => makePool(url, `replica-${i}`));
  const primary = drizzle({ client: primaryPool, schema }) as unknown as Db;
  const replicas = replicaPools.map((pool) => drizzle({ client: pool, schema }) as unknown as Db);
  let next = 0;
  return {
    driver: "node-postgres",
    primary,
    get replica() {
      if (replicas.length === 0) return primary;
      next = (next + 1) % replicas.length;
      return replicas[next]!;
    },
    atomic: transactionalAtomic(primary),
    ping: async () => {
      await primary.execute(sql`select 1`);
    },
    close: async () => {
      await Promise.all([primaryPool, ...replicaPools].map((pool) => pool.end()));
    },
    pools: [primaryPool, ...replicaPools],
  };
}
