import { describe, expect, it } from "vitest";
import { fetchWorker, withoutServices } from "./worker-client";

describe("operations endpoints in workerd", () => {
  it("answers /healthz with 200 JSON, no-store and a request id", async () => {
    const response = await fetchWorker("/healthz");

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("builds services once per isolate: metrics add up across requests", async () => {
    await fetchWorker("/healthz");
    await fetchWorker("/healthz");
    const metrics = await (await fetchWorker("/metrics")).text();

    const served = metrics.match(
      /^http_requests_total\{[^}]*route="\/healthz"[^}]*status="200"[^}]*\} (\d+)/m,
    );
    expect(Number(served?.[1])).toBeGreaterThanOrEqual(2);
  });

  it("serves its OpenAPI document", async () => {
    const response = await fetchWorker("/openapi.json");

    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/{slug}"]));
  });

  it("serves the interactive reference of that document at /docs", async () => {
    const response = await fetchWorker("/docs");

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toContain("SwaggerUIBundle");
  });
});

describe.skipIf(withoutServices)(
  "readiness against Postgres (Neon stand-in) and Redis (Upstash stand-in)",
  () => {
    it("is ready with both dependencies up", async () => {
      const response = await fetchWorker("/readyz");
      const body = (await response.json()) as {
        status: string;
        failed?: string[];
        checks: Record<string, { status: string; latencyMs: number }>;
      };

      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body.status).toBe("ready");
      expect(body.failed).toBeUndefined();
      expect(body.checks.postgres?.status).toBe("up");
      expect(body.checks.redis?.status).toBe("up");
      expect(response.headers.get("cache-control")).toBe("no-store");
    });
  },
);
