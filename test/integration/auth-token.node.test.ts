import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { displayPrefix, generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import { freePort, killAllEdgelink, requestOnce, startEdgelink } from "../support/node-process";

/**
 * The Node entry with no JWT_SECRET, as operators first run it: the primary makes one secret and
 * every worker it forks, a replacement included, signs and verifies with it.
 */

const testDatabaseUrl = inject("testDatabaseUrl");

/** One request on its own connection, so the cluster's round-robin spreads them over the workers. */
const send = (port: number, method: string, path: string, credential: string) =>
  requestOnce(port, path, { method, headers: { authorization: `Bearer ${credential}` }, timeoutMs: 5_000 });

describe.skipIf(!testDatabaseUrl)("tokens on a Node cluster without JWT_SECRET", () => {
  let key: string;
  beforeAll(async () => {
    await promisify(execFile)("npm", ["run", "build:node", "--silent"]);
    key = generateApiKey();
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>(
        "insert into workspaces (name) values ('node tokens') returning id",
      );
      await client.query(
        "insert into api_keys (workspace_id, name, prefix, secret_hash, scopes) values ($1, 'node', $2, $3, $4)",
        [rows[0]!.id, displayPrefix(key), await hashApiKey(key), ["links:read"]],
      );
    } finally {
      await client.end();
    }
  });
  afterEach(() => killAllEdgelink());
  afterAll(() => killAllEdgelink());

  it("every worker, and the replacement of a killed one, accepts a token any of them minted", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const edgelink = startEdgelink({
      PORT: String(port),
      DATABASE_URL: testDatabaseUrl!,
      WEB_CONCURRENCY: "2",
      CLICK_CONSUMER: "off",
    });
    const listening = await edgelink.waitForLogs((line) => line.msg === "listening", 2, 20_000);
    const warnings = edgelink.logs.filter((line) => String(line.msg).startsWith("JWT_SECRET unset"));
    expect(warnings.map((line) => line.pid)).toEqual([edgelink.pid]);

    const exchanged = await send(port, "POST", "/api/v1/auth/token", key);
    expect(exchanged.status, exchanged.body).toBe(200);
    const { token } = JSON.parse(exchanged.body) as { token: string };
    const statuses = async () => {
      const answers = [];
      for (let i = 0; i < 8; i++) answers.push((await send(port, "GET", "/api/v1/links", token)).status);
      return answers;
    };
    expect(await statuses()).toEqual(Array(8).fill(200));

    const victim = listening[0]!.pid;
    process.kill(victim, "SIGKILL");
    await edgelink.waitForLogs(
      (line) => line.msg === "listening" && line.pid !== listening[1]!.pid && line.pid !== victim,
      1,
      20_000,
    );
    await sleep(100);
    expect(await statuses()).toEqual(Array(8).fill(200));
    expect(edgelink.stdout.join("\n")).not.toContain(token);
  });
});
