import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import type { CustomTypesConfig, PoolClient, QueryArrayConfig } from "pg";
import { DatabaseError, Pool } from "pg";
import { listen } from "./listen";
import type { NeonQuery, NeonResult } from "./neon-wire-format";
import {
  arrayModeFrom,
  beginStatementFrom,
  headerValue,
  NeonRequestError,
  readNeonRequest,
  targetUrlFor,
  toNeonError,
  toNeonResult,
} from "./neon-wire-format";

// The driver parses every value itself by type OID, so pg must hand back the exact wire text.
const rawText = { getTypeParser: () => (value: string) => value } as unknown as CustomTypesConfig;

type Row = (string | null)[];

/** Options for {@link startNeonHttpServer}. */
export interface NeonHttpServerOptions {
  /** The real Postgres that queries run against (host, port and options are always taken from here). */
  databaseUrl: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; defaults to 127.0.0.1. */
  host?: string;
}

/** A running stand-in; `url` is the value for `neonConfig.fetchEndpoint`. */
export interface NeonHttpServer {
  url: string;
  close(): Promise<void>;
}

function statement({ query, params }: NeonQuery): QueryArrayConfig {
  // Extended protocol even without params, as Neon does: one statement per query, no `a; b` smuggling.
  const config: QueryArrayConfig & { queryMode: "extended" } = {
    text: query,
    values: params,
    rowMode: "array",
    queryMode: "extended",
  };
  return config;
}

/** Errors that end only the statement; anything else (FATAL, socket loss) means the connection is unusable. */
function leavesConnectionUsable(error: unknown): boolean {
  return error instanceof DatabaseError && error.severity === "ERROR";
}

async function withClient<T>(pool: Pool, run: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client that loses its socket emits 'error'; unhandled, that would kill the process.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  try {
    return await run(client);
  } catch (error) {
    if (!leavesConnectionUsable(error)) broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}

async function runBatch(client: PoolClient, queries: NeonQuery[], begin: string, arrayMode: boolean) {
  await client.query(begin);
  try {
    const results: NeonResult[] = [];
    for (const query of queries) {
      results.push(toNeonResult(await client.query<Row>(statement(query)), arrayMode));
    }
    await client.query("COMMIT");
    return { results };
  } catch (error) {
    // If ROLLBACK fails too the connection is gone; the original error is the one worth reporting.
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/**
 * Starts a local HTTP endpoint that speaks the wire format of Neon's SQL-over-HTTP API (as used by
 * `neon()` from `@neondatabase/serverless` and `drizzle-orm/neon-http`) and runs the queries on a
 * real Postgres. For local development and tests only: no auth, and the `Authorization` header is ignored.
 */
export async function startNeonHttpServer(opts: NeonHttpServerOptions): Promise<NeonHttpServer> {
  const pools = new Map<string, Pool>();
  const poolFor = (url: string): Pool => {
    let pool = pools.get(url);
    if (!pool) {
      pool = new Pool({
        connectionString: url,
        types: rawText,
        max: 10,
        application_name: "neon-http-standin",
      });
      pool.on("error", (error) => console.warn(`[neon-http-standin] idle connection lost: ${error.message}`));
      pools.set(url, pool);
    }
    return pool;
  };

  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    if (req.method !== "POST") throw new NeonRequestError(405, "Only POST is supported");
    const request = await readNeonRequest(req);
    const arrayMode = arrayModeFrom(req.headers);
    const pool = poolFor(targetUrlFor(opts.databaseUrl, headerValue(req.headers, "neon-connection-string")));
    if (request.kind === "single") {
      const result = await withClient(pool, (client) => client.query<Row>(statement(request.query)));
      return { status: 200, body: toNeonResult(result, arrayMode) };
    }
    const begin = beginStatementFrom(req.headers);
    return {
      status: 200,
      body: await withClient(pool, (c) => runBatch(c, request.queries, begin, arrayMode)),
    };
  };

  const respond = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (status === 405) headers.allow = "POST";
    // An oversized body is still arriving; don't let the client reuse the connection afterwards.
    if (status === 413) headers.connection = "close";
    res.writeHead(status, headers).end(JSON.stringify(body));
    // Unread request data would otherwise stall the socket.
    req.resume();
  };

  const server = createServer((req, res) => {
    handle(req).then(
      ({ status, body }) => respond(req, res, status, body),
      (error: unknown) => {
        const { status, body } = toNeonError(error);
        respond(req, res, status, body);
      },
    );
  });

  const base = await listen(server, opts.port, opts.host);

  return {
    url: `${base}/sql`,
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Drivers keep connections alive; without this close() would wait for their idle timeout.
        server.closeAllConnections();
      });
      await Promise.all([...pools.values()].map((pool) => pool.end()));
      pools.clear();
    },
  };
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error("DATABASE_URL is required (the Postgres that Neon queries should run against)");
    process.exit(1);
  }
  const server = await startNeonHttpServer({
    databaseUrl,
    port: Number(process.env.NEON_STANDIN_PORT ?? 4444),
  });
  console.log(`Neon HTTP stand-in listening: set neonConfig.fetchEndpoint = "${server.url}"`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}
