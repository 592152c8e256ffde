import { describe, expect, it } from "vitest";
import { rateLimitHeaders } from "../../src/ratelimit/rate-limit-headers";
import type { RateLimitDecision, RateLimitPolicy } from "../../src/ratelimit/rate-limiter";

const apiRead: RateLimitPolicy = { name: "api-read", limit: 1200, windowMs: 60_000, failMode: "open" };
const now = 1_800_000_000_000;

function decision(overrides: Partial<RateLimitDecision>): RateLimitDecision {
  return {
    allowed: true,
    limit: 1200,
    remaining: 1187,
    resetAt: now + 41_200,
    policy: apiRead,
    source: "redis",
    ...overrides,
  };
}

describe("rateLimitHeaders", () => {
  it("writes the IETF fields as structured-field lists, and the older three, on an admitted request", () => {
    expect(rateLimitHeaders(decision({}), now)).toEqual({
      "RateLimit-Policy": '"api-read";q=1200;w=60',
      RateLimit: '"api-read";r=1187;t=42',
      "RateLimit-Limit": "1200",
      "RateLimit-Remaining": "1187",
      "RateLimit-Reset": "42",
    });
  });

  it("adds Retry-After on a refusal, at least 1 s and equal to the effective window t", () => {
    const soon = rateLimitHeaders(decision({ allowed: false, remaining: 0, resetAt: now + 200 }), now);
    expect(soon).toMatchObject({
      RateLimit: '"api-read";r=0;t=1',
      "RateLimit-Reset": "1",
      "Retry-After": "1",
    });
    const later = rateLimitHeaders(decision({ allowed: false, remaining: 0, resetAt: now + 14_001 }), now);
    expect(later["Retry-After"]).toBe("15");
    expect(later.RateLimit).toBe('"api-read";r=0;t=15');
  });

  it("never sends negative or fractional values, and rounds windows to whole seconds (w ≥ 1)", () => {
    const odd: RateLimitPolicy = { name: "password", limit: 10, windowMs: 1_500, failMode: "closed" };
    const headers = rateLimitHeaders(
      decision({ policy: odd, limit: 10, remaining: -3, resetAt: now - 5 }),
      now,
    );
    expect(headers).toMatchObject({
      "RateLimit-Policy": '"password";q=10;w=2',
      RateLimit: '"password";r=0;t=0',
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "0",
    });
    expect(headers["Retry-After"]).toBeUndefined();
  });
});
