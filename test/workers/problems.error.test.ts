import { describe, expect, it } from "vitest";
import { fetchWorker, leakPattern, problemOf } from "./worker-client";

describe("problem+json errors from the Worker", () => {
  it("answers an unknown route with a 404 problem whose requestId is the X-Request-Id header", async () => {
    const response = await fetchWorker("/no/such/route");
    const { body, text } = await problemOf(response);

    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body).toMatchObject({
      type: "https://edgelink.dev/problems/not-found",
      title: "Not found",
      status: 404,
      code: "NOT_FOUND",
      instance: "/no/such/route",
    });
    expect(body.requestId).toBeTruthy();
    expect(body.requestId).toBe(response.headers.get("x-request-id"));
    expect(text).not.toMatch(leakPattern);
  });

  it.each([
    ["65 characters", "a".repeat(65)],
    ["a character outside [A-Za-z0-9_-]", "a.b"],
    ["a reserved word", "api"],
    ["a reserved word in another case", "Admin"],
  ])("rejects a slug with %s as a 400 naming param.slug", async (_, slug) => {
    const response = await fetchWorker(`/${slug}`);
    const { body, text } = await problemOf(response);

    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.errors?.[0]?.field).toBe("param.slug");
    expect(body.requestId).toBe(response.headers.get("x-request-id"));
    expect(text).not.toMatch(leakPattern);
  });

  it("answers a database outage on the redirect path with 503 + Retry-After, without internals", async () => {
    const response = await fetchWorker("/some-link", {}, { NEON_FETCH_ENDPOINT: "http://127.0.0.1:1/sql" });
    const { body, text } = await problemOf(response);

    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(body.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.requestId).toBe(response.headers.get("x-request-id"));
    expect(text).not.toMatch(leakPattern);
  });
});

describe("X-Request-Id", () => {
  it("echoes a sane client id", async () => {
    const id = "client-req_0123456789=";
    const response = await fetchWorker("/no/such/route", { headers: { "X-Request-Id": id } });
    const { body } = await problemOf(response);

    expect(response.headers.get("x-request-id")).toBe(id);
    expect(body.requestId).toBe(id);
  });

  it.each([
    ["300 characters", "x".repeat(300)],
    ["spaces", "two words"],
    ["markup", "<script>alert(1)</script>"],
  ])("replaces a client id with %s", async (_, id) => {
    const response = await fetchWorker("/healthz", { headers: { "X-Request-Id": id } });
    const replaced = response.headers.get("x-request-id");

    expect(response.status).toBe(200);
    expect(replaced).toBeTruthy();
    expect(replaced).not.toBe(id);
    expect(replaced!.length).toBeLessThanOrEqual(255);
  });
});
