import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { displayPrefix, generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import { createTokenService } from "../../src/auth/token-service";
import { fetchWorker, leakPattern, problemOf, standinSql, withoutServices } from "./worker-client";

const JWT_SECRET = "edgelink-workers-test-jwt-secret-0123456789";

/** Calls the Worker entry with `credential` and these bindings on top of the project's. */
const call = (
  path: string,
  credential: string,
  init: RequestInit = {},
  bindings: Record<string, string | undefined> = { JWT_SECRET },
) =>
  fetchWorker(
    `/api/v1${path}`,
    { ...init, headers: { Authorization: `Bearer ${credential}`, "Content-Type": "application/json" } },
    bindings,
  );

describe("tokens inside workerd, through the Worker entry", () => {
  // Postgres that nobody answers and no Redis: whatever gets past authentication proves it needed neither.
  const offline = {
    JWT_SECRET,
    NEON_FETCH_ENDPOINT: "http://127.0.0.1:1/sql",
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  };
  const mint = async (secret = JWT_SECRET) => {
    const tokens = createTokenService({
      secret,
      issuer: "edgelink",
      audience: "edgelink-api",
      defaultTtlSeconds: 900,
      maxTtlSeconds: 3600,
    });
    const issued = await tokens.issue({
      workspaceId: randomUUID(),
      keyId: randomUUID(),
      scopes: ["links:read", "links:write"],
      credential: "api-key",
    });
    if (!issued.ok) throw new Error(issued.reason);
    return issued.token;
  };

  it("verifies a token read from the JWT_SECRET binding with no database or Redis", async () => {
    const token = await mint();
    const invalid = await call("/links", token, { method: "POST", body: '{"url":"nope"}' }, offline);
    const { body, text } = await problemOf(invalid);
    expect([invalid.status, body.errors?.[0]?.field]).toEqual([400, "body.url"]);
    expect(text).not.toMatch(leakPattern);
    const admin = await call("/keys", token, {}, offline);
    expect([admin.status, (await problemOf(admin)).body.detail]).toEqual([
      403,
      'Tokens never carry "keys:admin": send the API key itself.',
    ]);
    // The links query itself does need Postgres: a 503, not a 401.
    expect((await call("/links", token, {}, offline)).status).toBe(503);
  });

  it("answers another secret's token, or any token without JWT_SECRET, with the 401 problem", async () => {
    for (const [token, bindings] of [
      [await mint("another-secret-of-at-least-32-characters"), offline],
      [await mint(), { ...offline, JWT_SECRET: undefined }],
    ] as const) {
      const response = await call("/links", token, {}, bindings);
      const { body, text } = await problemOf(response);
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="edgelink", error="invalid_token"');
      expect(body.code).toBe("UNAUTHORIZED");
      expect(text).not.toContain(token);
    }
  });
});

describe.skipIf(withoutServices)(
  "token exchange through the Worker entry (Neon and Upstash stand-ins)",
  () => {
    let key: string;

    beforeAll(async () => {
      const sql = standinSql();
      key = generateApiKey();
      const [workspace] =
        await sql`insert into workspaces (name) values (${`workers tokens ${randomUUID()}`}) returning id`;
      await sql`insert into api_keys (workspace_id, name, prefix, secret_hash, scopes)
              values (${workspace!.id}, 'workers', ${displayPrefix(key)}, ${await hashApiKey(key)},
                      ${["links:read", "links:write", "keys:admin"]})`;
    });

    it("exchanges the key, uses the token on /links, and refuses a token minting a token", async () => {
      const exchanged = await call("/auth/token", key, { method: "POST", body: '{"scopes":["links:read"]}' });
      expect(exchanged.status).toBe(200);
      expect(exchanged.headers.get("cache-control")).toBe("no-store");
      const { token, tokenType, scopes } = await exchanged.json();
      expect([tokenType, scopes]).toEqual(["Bearer", ["links:read"]]);
      expect((await call("/links", token)).status).toBe(200);
      expect(
        (await call("/links", token, { method: "POST", body: '{"url":"https://example.com"}' })).status,
      ).toBe(403);
      expect((await call("/auth/token", token, { method: "POST" })).status).toBe(403);
    });

    it("answers the exchange with a 503 problem when the Worker has no JWT_SECRET", async () => {
      const response = await call(
        "/auth/token",
        key,
        { method: "POST", body: "{}" },
        { JWT_SECRET: undefined },
      );
      const { body } = await problemOf(response);
      expect([response.status, body.detail]).toEqual([
        503,
        "Token exchange is not configured on this deployment (JWT_SECRET is unset).",
      ]);
    });
  },
);
