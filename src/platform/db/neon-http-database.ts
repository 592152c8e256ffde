import { neon, neonConfig } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { schema } from "../../../db/schema";
import type { Database, Db } from "./database";

const neonDefaultEndpoint = neonConfig.fetchEndpoint;

/**
 * Neon's serverless driver over HTTP: each query is one fetch, pooled by the platform, so an
 * isolate holds no connection at all.
 *
 * @param options.fetchEndpoint only for local stand-ins; production uses Neon's own endpoint.
 */
export function createNeonHttpDatabase(options: {
  url: string;
  replicaUrls?: string[];
  fetchEndpoint?: string;
}): Database {
  // The driver's endpoint is a global: set it either way, so one isolate built for a stand-in
  // never leaks that endpoint into a later build without one.
  const endpoint = options.fetchEndpoint;
  neonConfig.fetchEndpoint = endpoint ? () => endpoint : neonDefaultEndpoint;
  const primary = drizzle({ client: neon(options.url), schema });
  const replicas = (options.replicaUrls ?? []).map((url) => drizzle({ client: neon(url), schema }));
  let next = 0;
  return {
    driver: "neon-http",
    primary: primary as unknown as Db,
    get replica() {
      if (replicas.length === 0) return primary as unknown as Db;
      next = (next + 1) % replicas.length;
      return replicas[next] as unknown as Db;
    },
    atomic: (build) => {
      const queries = build(primary as unknown as Db) as unknown as Parameters<typeof primary.batch>[0];
      return primary.batch(queries) as never;
    },
    ping: async () => {
      await primary.execute(sql`select 1`);
    },
    close: async () => {},
  };
}
