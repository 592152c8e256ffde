import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type Api, apiAs, expectProblem, roomyLimits, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

/** The slug generator, stubbed: `next` (when set) decides every generated slug; `drawn` counts draws. */
const slugs = vi.hoisted(() => ({ next: undefined as (() => string) | undefined, drawn: 0 }));
vi.mock("../../src/links/slug", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/links/slug")>();
  return {
    ...real,
    generateSlug: (length: number) => {
      slugs.drawn += 1;
      return slugs.next?.() ?? real.generateSlug(length);
    },
  };
});

describe("generated slugs that keep colliding", () => {
  let t: TestApp;
  let api: Api;
  const stuck = `stuck-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits });
    api = apiAs(t, (await tenant(t, "acme")).key);
    slugs.next = () => stuck;
    expect((await api.create({ url: "https://example.com/first" })).slug).toBe(stuck);
  });
  beforeEach(() => {
    slugs.next = () => stuck;
    slugs.drawn = 0;
  });
  afterAll(() => t?.close());

  it("answer 503 with Retry-After, not the 409 of a slug the client chose, after the stated attempts", async () => {
    const res = await api.post("/links", { url: "https://example.com/second" });
    const problem = await expectProblem(res, 503);
    expect(problem).toMatchObject({
      code: "SLUG_GENERATION_FAILED",
      type: "https://edgelink.dev/problems/slug-generation-failed",
      title: "No free slug could be generated",
      detail: "No free slug was found in 5 attempts; retry, or choose a slug.",
    });
    expect(res.headers.get("retry-after")).toBe("1");
    expect(slugs.drawn).toBe(5);
  });

  it("are not remembered under an Idempotency-Key: the retry draws afresh and succeeds", async () => {
    const headers = { "Idempotency-Key": crypto.randomUUID() };
    const body = { url: "https://example.com/retried" };
    await expectProblem(await api.post("/links", body, headers), 503);
    slugs.next = undefined;
    const retried = await api.post("/links", body, headers);
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect((await retried.json()).slug).not.toBe(stuck);
  });

  it("still leave a taken custom slug a 409", async () => {
    const problem = await expectProblem(
      await api.post("/links", { url: "https://example.com/x", slug: stuck }),
      409,
    );
    expect(problem.code).toBe("SLUG_TAKEN");
    expect(slugs.drawn).toBe(0);
  });
});
