import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import type { EdgeWorkerVars } from "../../dev/edge-stack";

/**
 * With DATABASE_URL and REDIS_URL set, the workerd suites run the Worker against the real services
 * through the local Neon and Upstash stand-ins (a throw-away migrated database, torn down afterwards);
 * without them nothing is provided and the service-backed suites skip. Either way the run says which.
 *
 * The stand-ins run in a child Node process: this file is loaded through the workers project's Vite,
 * which the Cloudflare plugin configures for workerd (every dependency inlined, worker export
 * conditions), and Node-only packages such as ioredis break there.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = process.env;
  if (!databaseUrl || !redisUrl) {
    const missing = [!databaseUrl && "DATABASE_URL", !redisUrl && "REDIS_URL"].filter(Boolean).join(" and ");
    console.log(
      `\n[workers] runtime suites only; service-backed suites skip (${missing} unset — set DATABASE_URL and ` +
        "REDIS_URL to run them against Postgres and Redis through the Neon and Upstash stand-ins)\n",
    );
    return async () => {};
  }

  const script = fileURLToPath(new URL("./edge-services-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(child, "exit");
  const ready = new Promise<{ database: string; vars: EdgeWorkerVars }>((resolve, reject) => {
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const line = output.split("\n", 2);
      if (line.length === 2) resolve(JSON.parse(line[0]!));
    });
    exited.then(
      ([code]) => reject(new Error(`[workers] edge services process exited (code ${code}) before ready`)),
      reject,
    );
  });
  const timer = setTimeout(() => child.kill("SIGTERM"), 60_000);
  const { database, vars } = await ready.finally(() => clearTimeout(timer));

  project.provide("edgeServices", vars);
  console.log(
    `\n[workers] all suites: Postgres ${database} via Neon stand-in ${vars.NEON_FETCH_ENDPOINT}, ` +
      `Redis ${new URL(redisUrl).host} via Upstash stand-in ${vars.UPSTASH_REDIS_REST_URL}\n`,
  );
  return async () => {
    // Closing stdin asks the process to stop the stand-ins and drop the database.
    child.stdin.end();
    await exited;
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The Worker's bindings for the stand-ins; set only when the run has Postgres and Redis. */
    edgeServices: EdgeWorkerVars | undefined;
  }
}
