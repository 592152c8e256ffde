import { inject } from "vitest";
import { startNeonHttpServer } from "../../dev/neon-http-server";
import type { Database } from "../../src/platform/db/database";
import { createNeonHttpDatabase } from "../../src/platform/db/neon-http-database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { createPgliteDatabase } from "../../src/platform/db/pglite-database";
import { migrationsFolder } from "../../src/platform/node/node-platform";

export interface DriverUnderTest {
  name: Database["driver"];
  /** Why it is skipped on this run, or undefined when it runs. */
  skip: string | undefined;
  open(): Promise<Database & { teardown?: () => Promise<void> }>;
}

/**
 * The three drivers behind the one Database port: PGlite always, node-postgres and Neon over HTTP
 * (through the local stand-in) when the run has a real Postgres.
 */
export function driversUnderTest(): DriverUnderTest[] {
  const url = inject("testDatabaseUrl");
  const needsPostgres = url ? undefined : "DATABASE_URL unset";
  return [
    {
      name: "pglite",
      skip: undefined,
      open: () => createPgliteDatabase({ dataDir: "memory://", migrationsFolder }),
    },
    {
      name: "node-postgres",
      skip: needsPostgres,
      open: async () => createNodePostgresDatabase({ url: url!, poolMax: 4, statementTimeoutMs: 5_000 }),
    },
    {
      name: "neon-http",
      skip: needsPostgres,
      open: async () => {
        const endpoint = await startNeonHttpServer({ databaseUrl: url!, port: 0 });
        const db = createNeonHttpDatabase({ url: url!, fetchEndpoint: endpoint.url });
        return Object.assign(db, { teardown: () => endpoint.close() });
      },
    },
  ];
}
