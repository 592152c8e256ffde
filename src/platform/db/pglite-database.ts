import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { schema } from "../../../db/schema";
import { type Database, type Db, transactionalAtomic } from "./database";

/**
 * The embedded default: Postgres compiled to WASM, in this process, data in `dataDir`
 * (`memory://` keeps it in memory). One process owns the data directory, which is why the Node
 * entry runs a single process on PGlite. Migrations are applied on open, so a fresh machine needs
 * no separate step.
 */
export async function createPgliteDatabase(options: {
  dataDir: string;
  migrationsFolder: string;
}): Promise<Database & { client: PGlite }> {
  // Extensions the migrations create must be compiled in: PGlite cannot load them from disk.
  const client = await PGlite.create(options.dataDir, { extensions: { pg_trgm } });
  const primary = drizzle({ client, schema });
  await migrate(primary, { migrationsFolder: options.migrationsFolder });
  const db = primary as unknown as Db;
  return {
    driver: "pglite",
    primary: db,
    replica: db,
    atomic: transactionalAtomic(db),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: async () => {
      await client.close();
    },
    client,
  };
}
