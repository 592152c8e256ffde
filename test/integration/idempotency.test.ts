import { randomUUID } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idempotencyKeys, workspaces } from "../../db/schema";
import { loadConfig } from "../../src/config";
import type { AppEnv } from "../../src/http/app-env";
import { AppError } from "../../src/http/errors";
import { onError, validationHook } from "../../src/http/problem-handlers";
import { idempotency } from "../../src/idempotency/idempotency-middleware";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import type { Database } from "../../src/platform/db/database";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { createServices } from "../../src/services";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";

const createThing = createRoute({
  method: "post",
  path: "/things",
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.object({ name: z.string(), outcome: z.enum(["created", "rejected", "crash", "down"]) }),
        },
      },
    },
  },
  responses: { 201: { description: "created" } },
});

/** A route behind fake auth whose handler creates a workspace row, counting its runs. */
function buildApp(db: Database) {
  const logs: string[] = [];
  const services = createServices({
    runtime: "node",
    config: loadConfig({ PGLITE_DATA_DIR: "memory://" }),
    db,
    cache: new MemoryCache(),
    metrics: new MetricsRegistry(),
    logger: createLogger({ level: "warn", write: (line) => logs.push(line) }),
  });
  const state = { runs: 0, gate: undefined as Promise<void> | undefined, logs };
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use(async function fakeAuth(c, next) {
    c.set("services", services);
    c.set("auth", { workspaceId: c.req.header("x-workspace") ?? "", keyId: "k", scopes: ["links:write"] });
    await next();
  });
  app.use("/things", idempotency());
  app.openapi(createThing, async (c) => {
    state.runs++;
    await state.gate;
    const { name, outcome } = c.req.valid("json");
    if (outcome === "rejected") throw new AppError("UNPROCESSABLE", { detail: `no ${name}` });
    if (outcome === "crash") throw new Error("handler crashed");
    if (outcome === "down") throw new AppError("DEPENDENCY_UNAVAILABLE");
    const row = await c.var.services.workspaces.create({ name });
    return c.json({ id: row.id, name }, 201, { Location: `/things/${row.id}` });
  });
  app.get("/things", (c) => c.text(`listed ${++state.runs}`));
  app.onError(onError);
  return { app, state };
}

for (const driver of driversUnderTest()) {
  describe.skipIf(driver.skip)(
    `Idempotency-Key on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      let built: ReturnType<typeof buildApp>;
      let acme: string;
      let globex: string;

      const post = (workspace: string, key: string | undefined, body: object | string) =>
        built.app.request("/things", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-workspace": workspace,
            ...(key === undefined ? {} : { "idempotency-key": key }),
          },
          body: typeof body === "string" ? body : JSON.stringify(body),
        });
      const rowsNamed = async (name: string) =>
        (await db.primary.select().from(workspaces).where(eq(workspaces.name, name))).length;
      const fresh = () => ({ key: randomUUID(), name: `thing-${randomUUID()}` });

      beforeAll(async () => {
        db = await driver.open();
        acme = (await createWorkspaceRepository(db).create({ name: "acme" })).id;
        globex = (await createWorkspaceRepository(db).create({ name: "globex" })).id;
        built = buildApp(db);
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      it("passes requests without the header, and methods other than POST and PATCH, through", async () => {
        const { key, name } = fresh();
        expect((await post(acme, undefined, { name, outcome: "created" })).status).toBe(201);
        expect((await post(acme, undefined, { name, outcome: "created" })).status).toBe(201);
        expect(await rowsNamed(name)).toBe(2);
        const get = () =>
          built.app.request("/things", { headers: { "x-workspace": acme, "idempotency-key": key } });
        expect(await (await get()).text()).not.toBe(await (await get()).text());
      });

      it("replays the first response to a retry and creates exactly one row", async () => {
        const { key, name } = fresh();
        const first = await post(acme, key, { name, outcome: "created" });
        const firstBody = await first.text();
        const runs = built.state.runs;
        // The draft's quoted form names the same key as the bare one.
        const retry = await post(acme, `"${key}"`, { name, outcome: "created" });
        expect(first.status).toBe(201);
        expect(first.headers.get("idempotent-replayed")).toBeNull();
        expect(retry.status).toBe(201);
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        expect(await retry.text()).toBe(firstBody);
        expect(retry.headers.get("location")).toBe(first.headers.get("location"));
        expect(retry.headers.get("content-type")).toBe(first.headers.get("content-type"));
        expect(built.state.runs).toBe(runs);
        expect(await rowsNamed(name)).toBe(1);
      });

      it("answers 422 to the same key with another body, and never runs it", async () => {
        const { key, name } = fresh();
        await post(acme, key, { name, outcome: "created" });
        const other = await post(acme, key, { name: `${name}-2`, outcome: "created" });
        expect(other.status).toBe(422);
        expect(await other.json()).toMatchObject({
          code: "IDEMPOTENCY_KEY_REUSED",
          type: "https://edgelink.dev/problems/idempotency-key-reused",
        });
        // Byte-identical means byte-identical: the same JSON with other spacing is another request.
        expect((await post(acme, key, `{"name": "${name}", "outcome": "created"}`)).status).toBe(422);
        expect(await rowsNamed(`${name}-2`)).toBe(0);
      });

      it("answers 409 with Retry-After while the first request is still running", async () => {
        const { key, name } = fresh();
        let open = () => {};
        built.state.gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        const runs = built.state.runs;
        const first = post(acme, key, { name, outcome: "created" });
        await expect.poll(() => built.state.runs).toBe(runs + 1);
        const concurrent = await post(acme, key, { name, outcome: "created" });
        expect(concurrent.status).toBe(409);
        expect(concurrent.headers.get("retry-after")).toBe("1");
        expect(await concurrent.json()).toMatchObject({ code: "IDEMPOTENCY_KEY_IN_FLIGHT" });
        built.state.gate = undefined;
        open();
        expect((await first).status).toBe(201);
        expect((await post(acme, key, { name, outcome: "created" })).headers.get("idempotent-replayed")).toBe(
          "true",
        );
        expect(await rowsNamed(name)).toBe(1);
      });

      it("replays a 4xx outcome without running the handler again", async () => {
        const { key, name } = fresh();
        const first = await post(acme, key, { name, outcome: "rejected" });
        const runs = built.state.runs;
        const retry = await post(acme, key, { name, outcome: "rejected" });
        expect(first.status).toBe(422);
        expect(retry.status).toBe(422);
        expect(retry.headers.get("content-type")).toBe("application/problem+json");
        expect(await retry.text()).toBe(await first.text());
        expect(built.state.runs).toBe(runs);
      });

      it("forgets 5xx outcomes and unexpected errors, so the retry runs again", async () => {
        for (const outcome of ["crash", "down"]) {
          const { key, name } = fresh();
          expect((await post(acme, key, { name, outcome })).status).toBeGreaterThanOrEqual(500);
          const runs = built.state.runs;
          const retry = await post(acme, key, { name, outcome });
          expect(retry.headers.get("idempotent-replayed")).toBeNull();
          expect(built.state.runs).toBe(runs + 1);
        }
      });

      it("scopes keys per workspace", async () => {
        const { key, name } = fresh();
        expect((await post(acme, key, { name, outcome: "created" })).status).toBe(201);
        const other = await post(globex, key, { name, outcome: "created" });
        expect(other.status).toBe(201);
        expect(other.headers.get("idempotent-replayed")).toBeNull();
        expect(await rowsNamed(name)).toBe(2);
      });

      it("reclaims an expired key and an abandoned claim whose lease ran out", async () => {
        const { key, name } = fresh();
        await post(acme, key, { name, outcome: "created" });
        const where = and(eq(idempotencyKeys.workspaceId, acme), eq(idempotencyKeys.key, key));
        await db.primary
          .update(idempotencyKeys)
          .set({ expiresAt: new Date(Date.now() - 1_000) })
          .where(where);
        const again = await post(acme, key, { name: `${name}-new`, outcome: "created" });
        expect(again.status).toBe(201);
        expect(again.headers.get("idempotent-replayed")).toBeNull();
        expect(await rowsNamed(`${name}-new`)).toBe(1);

        const abandoned = fresh();
        await db.primary.insert(idempotencyKeys).values({
          workspaceId: acme,
          key: abandoned.key,
          requestHash: "a crashed process held this",
          expiresAt: new Date(Date.now() - 1_000),
        });
        expect((await post(acme, abandoned.key, { name: abandoned.name, outcome: "created" })).status).toBe(
          201,
        );
      });

      it("refuses malformed keys with a 400 naming the header, before running anything", async () => {
        const runs = built.state.runs;
        for (const bad of ["", "x".repeat(256), "caf\u00e9", "one, two", '"unterminated', '"a" "b"']) {
          const response = await post(acme, bad, { name: "never", outcome: "created" });
          expect(response.status, JSON.stringify(bad)).toBe(400);
          expect(await response.json()).toMatchObject({
            code: "VALIDATION_FAILED",
            errors: [{ field: "header.idempotency-key" }],
          });
        }
        expect((await post(acme, "x".repeat(255), { name: fresh().name, outcome: "created" })).status).toBe(
          201,
        );
        expect(built.state.runs).toBe(runs + 1);
      });

      it("runs 20 parallel identical requests exactly once", async () => {
        const { key, name } = fresh();
        const responses = await Promise.all(
          Array.from({ length: 20 }, () => post(acme, key, { name, outcome: "created" })),
        );
        const statuses = responses.map(
          (r) => `${r.status}${r.headers.get("idempotent-replayed") ? "r" : ""}`,
        );
        expect(statuses.filter((s) => s === "201")).toHaveLength(1);
        expect(statuses.every((s) => ["201", "201r", "409"].includes(s))).toBe(true);
        expect(await rowsNamed(name)).toBe(1);
        const bodies = new Set(
          await Promise.all(responses.filter((r) => r.status === 201).map((r) => r.text())),
        );
        expect(bodies.size).toBe(1);
        // Every claim was completed or released by its own holder, never lost to another.
        expect(built.state.logs.filter((line) => /could not (store|release)|taken over/.test(line))).toEqual(
          [],
        );
      });
    },
  );
}
