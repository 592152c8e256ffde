/**
 * Runs beside the workers suites as a plain Node process (see global-setup.ts for why): creates a
 * throw-away database on DATABASE_URL's server (never the database it names), migrates it, starts the
 * Neon and Upstash stand-ins on free ports, prints the Worker's bindings as one JSON line, and on
 * stdin closing or SIGTERM stops them and drops the database.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startEdgeServices } from "../../dev/edge-stack";

async function adminQuery(databaseUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) {
  console.error("edge-services-process: DATABASE_URL and REDIS_URL are required");
  process.exit(1);
}

const name = `edgelink_wk_${randomBytes(4).toString("hex")}`;
await adminQuery(databaseUrl, `create database ${name}`);
const dropDatabase = () => adminQuery(databaseUrl, `drop database if exists ${name} with (force)`);
const testUrl = new URL(databaseUrl);
testUrl.pathname = `/${name}`;

const services = await startEdgeServices({ databaseUrl: testUrl.toString(), redisUrl }).catch(
  async (error: unknown) => {
    await dropDatabase();
    throw error;
  },
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await services.close();
  await dropDatabase().catch((error: unknown) =>
    console.error(`edge-services-process: drop ${name}: ${error}`),
  );
  process.exit(0);
}
// stdin ends when the parent closes it, or dies: either way nothing is left behind.
process.stdin.on("end", () => void stop()).resume();
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

process.stdout.write(`${JSON.stringify({ database: `${testUrl.host}/${name}`, vars: services.vars })}\n`);
