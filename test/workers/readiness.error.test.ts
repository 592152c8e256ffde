import { describe, expect, it } from "vitest";
import { fetchWorker, leakPattern, problemOf, withoutServices } from "./worker-client";

/** Nothing listens there: connections are refused at once. */
const closedEndpoint = "http://127.0.0.1:1/sql";
const readinessTimeoutMs = 1_000;

interface Readiness {
  status: string;
  failed?: string[];
  checks: Record<string, { status: string; latencyMs: number; error?: string }>;
}

describe("readiness when a dependency is down", () => {
  it("answers 503 naming postgres when the database endpoint is unreachable", async () => {
    const started = Date.now();
    const response = await fetchWorker(
      "/readyz",
      {},
      {
        NEON_FETCH_ENDPOINT: closedEndpoint,
        READINESS_TIMEOUT_MS: String(readinessTimeoutMs),
      },
    );
    const body = (await response.json()) as Readiness;

    expect(response.status).toBe(503);
    expect(body.status).toBe("unavailable");
    expect(body.failed).toContain("postgres");
    expect(body.checks.postgres).toMatchObject({ status: "down", error: expect.any(String) });
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|\bat \S+ \(/);
    // The probe answers within its deadline (plus scheduling slack), never hangs the request.
    expect(Date.now() - started).toBeLessThan(readinessTimeoutMs + 2_000);
  });

  it.skipIf(withoutServices)(
    "stays in rotation but says degraded when Upstash refuses the token",
    async () => {
      const response = await fetchWorker("/readyz", {}, { UPSTASH_REDIS_REST_TOKEN: "not-the-token" });
      const body = (await response.json()) as Readiness;

      // Redirects still work on the local cache + Postgres, so only Postgres takes the instance out.
      expect(response.status).toBe(200);
      expect(body.status).toBe("degraded");
      expect(body.failed).toEqual(["redis"]);
      expect(body.checks.postgres?.status).toBe("up");
      expect(body.checks.redis?.status).toBe("down");
    },
  );
});

describe("a Worker deployed without DATABASE_URL", () => {
  it("answers 503 problem+json naming the missing binding, on every route", async () => {
    for (const path of ["/healthz", "/readyz", "/some-link"]) {
      const response = await fetchWorker(path, {}, { DATABASE_URL: undefined });
      const { body, text } = await problemOf(response);

      expect(response.status, path).toBe(503);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(body).toMatchObject({ status: 503, type: expect.stringMatching(/^https:\/\//) });
      expect(body.detail).toContain("DATABASE_URL");
      expect(text).not.toMatch(leakPattern);
    }
  });

  it("answers that 503 in the common problem shape, with a request id", async () => {
    const response = await fetchWorker(
      "/readyz",
      { headers: { "X-Request-Id": "deploy-check-1" } },
      { DATABASE_URL: undefined },
    );
    const { body } = await problemOf(response);

    expect(response.headers.get("x-request-id")).toBe("deploy-check-1");
    expect(body).toMatchObject({
      code: "DEPENDENCY_UNAVAILABLE",
      requestId: "deploy-check-1",
      instance: "/readyz",
    });
  });
});
