import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { apiKeyPattern } from "../../src/auth/api-key-format";
import { scopes } from "../../src/auth/scopes";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/platform/log/logger";
import { createNodeDatabase } from "../../src/platform/node/node-platform";
import { runAdmin } from "../support/admin-cli";
import { startTestApp } from "../support/app";

/** The admin CLI with exactly the edgelink settings given (plus REDIS_URL when the run has one). */
const admin = (args: string[], settings: Record<string, string>) =>
  runAdmin(args, { ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}), ...settings });

const keyLine = new RegExp(`^${apiKeyPattern.source}$`, "m");
const bearer = (key: string) => ({ headers: { Authorization: `Bearer ${key}` } });
const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgelink-admin-"));
  dirs.push(dir);
  return join(dir, "pglite");
};
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("npm run admin on the embedded PGlite", () => {
  it("creates a workspace and an admin key that the server then accepts; creates and revokes more keys", async () => {
    const dataDir = await tempDir();
    const created = await admin(["workspace", "create", "--name", "T", "--json"], {
      PGLITE_DATA_DIR: dataDir,
    });
    expect(created, created.stderr).toMatchObject({ code: 0, stderr: "" });
    const { workspace, apiKey } = JSON.parse(created.stdout);
    expect(workspace).toMatchObject({ id: expect.any(String), name: "T" });
    expect(apiKey.scopes).toEqual([...scopes]);
    expect(apiKey.key).toMatch(keyLine);

    const ci = await admin(
      [
        "keys",
        "create",
        "--workspace",
        workspace.id,
        "--name",
        "ci",
        "--scopes",
        "links:read,keys:admin",
        "--json",
      ],
      { PGLITE_DATA_DIR: dataDir },
    );
    expect(ci.code, ci.stderr).toBe(0);
    const ciKey = JSON.parse(ci.stdout).apiKey;
    const revoked = await admin(["keys", "revoke", "--workspace", workspace.id, "--id", ciKey.id], {
      PGLITE_DATA_DIR: dataDir,
    });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`Revoked API key ${ciKey.id} (${ciKey.prefix}…).`);

    const human = await admin(["workspace", "create", "--name", "Human"], { PGLITE_DATA_DIR: dataDir });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^Workspace "Human" created: [0-9a-f-]{36}$/m);
    expect(human.stdout).toMatch(keyLine);

    // Opened as the server opens it, so it holds the data directory's lock.
    const db = await createNodeDatabase(
      loadConfig({ PGLITE_DATA_DIR: dataDir }),
      createLogger({ level: "silent" }),
    );
    const t = await startTestApp({}, { db });
    try {
      // The data directory is open in this process now, as it would be in a running server.
      const busy = await admin(["workspace", "create", "--name", "X"], { PGLITE_DATA_DIR: dataDir });
      expect(busy.code).toBe(1);
      expect(busy.stderr.trim().split("\n")).toHaveLength(1);
      expect(busy.stderr).toContain(`is in use by process ${process.pid}`);
      const res = await t.app.request("/api/v1/keys", bearer(apiKey.key));
      expect(res.status).toBe(200);
      const { data } = await res.json();
      expect(data.map((k: { id: string }) => k.id).sort()).toEqual([apiKey.id, ciKey.id].sort());
      expect((await t.app.request("/api/v1/keys", bearer(ciKey.key))).status).toBe(401);
    } finally {
      await t.close();
    }
  }, 120_000);

  it("answers bad usage with one line on stderr and exit status 2, touching nothing", async () => {
    const dataDir = await tempDir();
    const cases = [
      [],
      ["workspace"],
      ["workspace", "delete", "--name", "T"],
      ["workspace", "create"],
      ["workspace", "create", "--name", ""],
      ["workspace", "create", "--name", "T", "--colour", "red"],
      ["keys", "create", "--workspace", "nope", "--name", "a", "--scopes", "links:read"],
      [
        "keys",
        "create",
        "--workspace",
        crypto.randomUUID(),
        "--name",
        "a",
        "--scopes",
        "links:read,links:nuke",
      ],
      ["keys", "revoke", "--workspace", crypto.randomUUID()],
    ];
    const runs = await Promise.all(cases.map((args) => admin(args, { PGLITE_DATA_DIR: dataDir })));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]!.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n"), run.stderr).toHaveLength(1);
      expect(run.stderr).toMatch(/^edgelink admin: .+ \(see npm run admin -- --help\)\n$/);
    });
    expect(existsSync(dataDir)).toBe(false);
    const help = await admin(["--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("workspace create --name NAME");
  }, 120_000);
});

describe.skipIf(!inject("testDatabaseUrl"))("npm run admin on a real Postgres (DATABASE_URL)", () => {
  it("creates a workspace whose key the app on that database accepts", async () => {
    const dataDir = await tempDir();
    const created = await admin(["workspace", "create", "--name", "Acme", "--json"], {
      DATABASE_URL: inject("testDatabaseUrl"),
      PGLITE_DATA_DIR: dataDir,
    });
    expect(created.code, created.stderr).toBe(0);
    const { workspace, apiKey } = JSON.parse(created.stdout);
    expect(existsSync(dataDir)).toBe(false); // PGlite was never opened
    const t = await startTestApp();
    try {
      const res = await t.app.request("/api/v1/keys", bearer(apiKey.key));
      expect(res.status).toBe(200);
      expect((await res.json()).data).toEqual([
        expect.objectContaining({ id: apiKey.id, name: "bootstrap" }),
      ]);
      expect((await t.services.workspaces.findById(workspace.id))?.name).toBe("Acme");
    } finally {
      await t.close();
    }
  }, 120_000);
});
