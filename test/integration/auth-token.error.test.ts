import { decode, sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiAs, expectProblem, roomyLimits, type Tenant, tenant } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";
import { exchange, testJwtSecret, tokenFor } from "../support/tokens";

const invalidToken = 'Bearer realm="edgelink", error="invalid_token"';

describe("token exchange errors are problem+json naming what is wrong", () => {
  let t: TestApp;
  let acme: Tenant;
  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret });
    acme = await tenant(t, "acme");
  });
  afterAll(() => t?.close());

  it("answers 400 naming each bad field of the body", async () => {
    const cases: [unknown, string][] = [
      [{ ttlSeconds: 3601 }, "body.ttlSeconds"],
      [{ ttlSeconds: 10 }, "body.ttlSeconds"],
      [{ ttlSeconds: "900" }, "body.ttlSeconds"],
      [{ ttlSeconds: 90.5 }, "body.ttlSeconds"],
      [{ scopes: [] }, "body.scopes"],
      [{ scopes: ["links:read", "links:read"] }, "body.scopes"],
      [{ scopes: ["links:everything"] }, "body.scopes.0"],
      [{ scopes: "links:read" }, "body.scopes"],
      [{ expiresIn: 60 }, "body.expiresIn"],
      ["{not json", "body"],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await exchange(t, acme.key, body), 400, field);
      expect(problem.code).toBe("VALIDATION_FAILED");
    }
  });

  it("refuses scopes the key does not hold (403 naming them), and keys:admin", async () => {
    const reader = (await t.services.apiKeys.create(acme.workspaceId, { name: "r", scopes: ["links:read"] }))
      .key;
    const escalation = await expectProblem(
      await exchange(t, reader, { scopes: ["links:read", "links:write", "analytics:read"] }),
      403,
    );
    expect(escalation.detail).toBe(
      "This API key cannot grant scopes it does not hold: links:write, analytics:read.",
    );
    const admin = await expectProblem(await exchange(t, acme.key, { scopes: ["keys:admin"] }), 403);
    expect(admin.detail).toMatch(/^Tokens never carry keys:admin/);
    const adminOnly = (
      await t.services.apiKeys.create(acme.workspaceId, { name: "a", scopes: ["keys:admin"] })
    ).key;
    expect((await expectProblem(await exchange(t, adminOnly), 403)).detail).toMatch(
      /no scope a token can carry/,
    );
  });

  it("refuses to mint a token with a token (403), before looking at the body", async () => {
    const token = await tokenFor(t, acme.key);
    for (const body of [undefined, {}, { ttlSeconds: 10 }]) {
      const problem = await expectProblem(await exchange(t, token, body), 403);
      expect(problem.detail).toBe("A token cannot be exchanged for another token: send the API key itself.");
    }
  });

  it("keeps /keys for the API key itself: a token gets 403 there", async () => {
    const token = await tokenFor(t, acme.key);
    const problem = await expectProblem(await apiAs(t, token).get("/keys"), 403);
    expect(problem.detail).toBe('Tokens never carry "keys:admin": send the API key itself.');
    expect((await apiAs(t, acme.key).get("/keys")).status).toBe(200);
  });

  it("answers an expired, tampered, foreign or garbled token with one and the same 401", async () => {
    const good = await tokenFor(t, acme.key);
    const { header, payload } = decode(good);
    const key = {
      kty: "oct" as const,
      k: Buffer.from(testJwtSecret).toString("base64url"),
      alg: "HS256" as const,
    };
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ ...payload, iat: now - 120, exp: now - 60 }, { ...key, kid: header.kid });
    const [h, p, s] = good.split(".") as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    const widened = `${h}.${Buffer.from(JSON.stringify({ ...payload, scope: "links:write" })).toString("base64url")}.${s}`;
    const wrongAud = await sign({ ...payload, aud: "another-api" }, { ...key, kid: header.kid });
    const wrongIss = await sign({ ...payload, iss: "someone-else" }, { ...key, kid: header.kid });
    const otherSecret = await sign(payload, {
      ...key,
      k: Buffer.from("z".repeat(40)).toString("base64url"),
      kid: header.kid,
    });
    const bodies = new Set<string>();
    for (const token of [expired, tampered, widened, wrongAud, wrongIss, otherSecret, "aa.bb.cc"]) {
      const res = await apiAs(t, token).get("/links");
      const problem = await expectProblem(res, 401);
      expect(res.headers.get("www-authenticate")).toBe(invalidToken);
      bodies.add(JSON.stringify({ detail: problem.detail, code: problem.code }));
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        detail:
          "The token is invalid or has expired; exchange an API key for a new one at POST /api/v1/auth/token.",
        code: "UNAUTHORIZED",
      }),
    ]);
    const refusals = t.services.metrics.snapshot();
    expect(JSON.stringify(refusals)).toContain("api_token_refusals_total");
  });

  it("refuses a token minted under another issuer or audience with the same secret", async () => {
    for (const env of [{ JWT_ISSUER: "staging" }, { JWT_AUDIENCE: "staging-api" }] as Record<
      string,
      string
    >[]) {
      const other = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret, ...env });
      try {
        const visitor = await tenant(other, "visitor");
        const foreign = await tokenFor(other, visitor.key);
        expect((await apiAs(other, foreign).get("/links")).status).toBe(200);
        await expectProblem(await apiAs(t, foreign).get("/links"), 401);
      } finally {
        await other.close();
      }
    }
  });
});

describe("without JWT_SECRET (an app built outside the Node entry, e.g. a Worker with no secret)", () => {
  let t: TestApp;
  let acme: Tenant;
  beforeAll(async () => {
    t = await startTestApp(roomyLimits);
    acme = await tenant(t, "acme");
  });
  afterAll(() => t?.close());

  it("answers the exchange with a 503 naming JWT_SECRET, refuses tokens with a 401, and keeps API keys working", async () => {
    const problem = await expectProblem(await exchange(t, acme.key), 503);
    expect(problem.detail).toBe("Token exchange is not configured on this deployment (JWT_SECRET is unset).");
    const signed = await startTestApp({ ...roomyLimits, JWT_SECRET: testJwtSecret });
    try {
      const elsewhere = await tokenFor(signed, (await tenant(signed, "elsewhere")).key);
      await expectProblem(await apiAs(t, elsewhere).get("/links"), 401);
    } finally {
      await signed.close();
    }
    expect((await apiAs(t, acme.key).get("/links")).status).toBe(200);
  });
});
