import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImportAbort, type ImportLineResult, importLinks } from "../../src/links/bulk-import-service";
import type { LinkService } from "../../src/links/link-service";
import { createLogger } from "../../src/platform/log/logger";
import { expectProblem, keyFor, roomyLimits, type Tenant, tenant, uniqueSlug } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { ndjsonLines, postBulk, streamedBody } from "../support/ndjson";

interface Result {
  line: number;
  status: "created" | "error";
  error?: { code: string; detail: string };
}

const line = (n: number) => `${JSON.stringify({ url: `https://example.com/${n}`, slug: uniqueSlug("e") })}\n`;

describe("bulk import: refusals and limits", () => {
  let t: TestApp;
  let acme: Tenant;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, IMPORT_MAX_BYTES: "4096", IMPORT_BATCH_SIZE: "10" });
    acme = await tenant(t, "limits");
  });
  afterAll(() => t?.close());

  it("answers 413 up front when Content-Length is over IMPORT_MAX_BYTES", async () => {
    const body = line(1).repeat(100);
    const res = await postBulk(t.app, acme.key, body, "application/x-ndjson", {
      "Content-Length": String(body.length),
    });
    const problem = await expectProblem(res, 413);
    expect(problem.detail).toContain("IMPORT_MAX_BYTES");
  });

  it("past IMPORT_MAX_BYTES mid-stream, answers every line read, then a last 413 line, and reads no further", async () => {
    let sentPieces = 0;
    function* pieces() {
      for (let n = 1; n <= 1_000; n++) {
        sentPieces += 1;
        yield line(n);
      }
    }
    const res = await postBulk(t.app, acme.key, streamedBody(pieces()));
    expect(res.status).toBe(200);
    const results: Result[] = [];
    for await (const result of ndjsonLines<Result>(res)) results.push(result);
    const last = results.pop()!;
    expect(last.status).toBe("error");
    expect(last.error?.code).toBe("PAYLOAD_TOO_LARGE");
    expect(last.line).toBe(results.length + 1);
    expect(results.length).toBeGreaterThan(10);
    expect(results.every((r, i) => r.line === i + 1 && r.status === "created")).toBe(true);
    // Every complete line within the limit was read; the body was cancelled soon after.
    let fit = 0;
    for (let bytes = line(1).length; bytes <= 4096; bytes += line(fit + 1).length) fit += 1;
    expect(results.length).toBe(fit);
    expect(sentPieces).toBeLessThan(200);
  });

  it("refuses a CSV header naming unknown or repeated columns, or without url, with 400", async () => {
    for (const header of ["url,colour", "url,slug,slug", "slug,title"]) {
      const res = await postBulk(t.app, acme.key, `${header}\nhttps://example.com,a,b\n`, "text/csv");
      const problem = await expectProblem(res, 400);
      expect(problem.detail).toMatch(/^CSV header:/);
    }
  });

  it("stops at a line longer than 1 Mi characters (no newline to resync on), answering what came before", async () => {
    const roomy = await startTestApp({ ...roomyLimits, IMPORT_MAX_BYTES: String(8 * 2 ** 20) });
    try {
      const key = (await tenant(roomy, "long")).key;
      const res = await postBulk(roomy.app, key, `${line(1)}{"url":"${"x".repeat(1_100_000)}`);
      const results: Result[] = [];
      for await (const result of ndjsonLines<Result>(res)) results.push(result);
      expect(results.map((r) => [r.line, r.status, r.error?.code])).toEqual([
        [1, "created", undefined],
        [2, "error", "VALIDATION_FAILED"],
      ]);
      expect(results[1]!.error?.detail).toMatch(/^Line 2 is longer than 1048576 characters/);
      // Nothing answered yet: the response itself is the problem.
      await expectProblem(await postBulk(roomy.app, key, `{"url":"${"x".repeat(1_100_000)}`), 400);
    } finally {
      await roomy.close();
    }
  });

  it("refuses other media types (415), an Idempotency-Key (400) and keys without links:write (403)", async () => {
    await expectProblem(await postBulk(t.app, acme.key, line(1), "application/json"), 415);
    await expectProblem(await postBulk(t.app, acme.key, line(1), "text/plain"), 415);
    await expectProblem(
      await postBulk(t.app, acme.key, line(1), "application/x-ndjson", { "Idempotency-Key": "k1" }),
      400,
      "header.idempotency-key",
    );
    const reader = await keyFor(t, acme.workspaceId, ["links:read", "analytics:read"]);
    await expectProblem(await postBulk(t.app, reader.key, line(1)), 403);
    await expectProblem(await postBulk(t.app, "elk_nope", line(1)), 401);
  });

  it("answers an empty body with an empty result stream", async () => {
    const res = await postBulk(t.app, acme.key, "", "text/csv");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });

  it("stops when the database fails: that batch's lines answer 503, nothing after them is read", async () => {
    let calls = 0;
    const linkService = {
      async createMany(_workspaceId: string, inputs: { slug?: string }[]) {
        calls += 1;
        if (calls === 2) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        return inputs.map((input) => ({
          ok: true,
          value: { id: randomUUID(), domain: "localhost", slug: input.slug },
        }));
      },
    } as unknown as LinkService;
    const deps = {
      linkService,
      logger: createLogger({ level: "silent" }),
      workspaceId: randomUUID(),
      localPort: 3000,
    };
    let read = 0;
    function* pieces() {
      for (let n = 1; n <= 1_000; n++) {
        read = n;
        yield line(n);
      }
    }
    const results: ImportLineResult[] = [];
    let stop: unknown;
    try {
      const options = { format: "ndjson" as const, batchSize: 10, concurrency: 1 };
      for await (const batch of importLinks(deps, streamedBody(pieces()), options)) results.push(...batch);
    } catch (error) {
      stop = error;
    }
    expect(results.map((r) => r.line)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(results.slice(0, 10).every((r) => r.status === "created")).toBe(true);
    expect(results.slice(10).map((r) => (r.status === "error" ? r.error.code : r.status))).toEqual(
      Array(10).fill("DEPENDENCY_UNAVAILABLE"),
    );
    expect(stop).toBeInstanceOf(ImportAbort);
    expect(stop).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE", line: 21 });
    expect(calls).toBe(2);
    expect(read).toBeLessThan(100);
  });
});
