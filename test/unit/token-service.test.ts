import { randomUUID } from "node:crypto";
import { decode, sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/auth/api-key-format";
import type { AuthContext } from "../../src/auth/scopes";
import { createTokenService, looksLikeJwt, type TokenServiceOptions } from "../../src/auth/token-service";
import { ConfigError, loadConfig } from "../../src/config";
import { withJwtSecret } from "../../src/entry/jwt-secret";
import { createLogger } from "../../src/platform/log/logger";

const secret = "s".repeat(16) + randomUUID();
const options: TokenServiceOptions = {
  secret,
  issuer: "edgelink",
  audience: "edgelink-api",
  defaultTtlSeconds: 900,
  maxTtlSeconds: 3600,
};
const tokens = createTokenService(options);
const apiKeyCaller: AuthContext = {
  workspaceId: randomUUID(),
  keyId: randomUUID(),
  scopes: ["links:read", "links:write", "analytics:read", "keys:admin"],
  credential: "api-key",
  keyExpiresAt: null,
};

async function issued(auth = apiKeyCaller, request = {}, service = tokens) {
  const result = await service.issue(auth, request);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result;
}

/** A token signed with `key` (the real secret unless given) under `kid`, with any claims at all. */
async function forged(claims: Record<string, unknown>, kid: string, key = secret, alg = "HS256") {
  const k = Buffer.from(key).toString("base64url");
  return sign(claims as never, { kty: "oct", k, alg: alg as "HS256", kid });
}

describe("exchange: what a token carries", () => {
  it("carries the workspace, the key id, the scopes, iat, exp (default 900 s), iss, aud and a kid", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { token, expiresAt, scopes } = await issued();
    const { header, payload } = decode(token);
    expect(header).toMatchObject({ alg: "HS256", typ: "JWT" });
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(payload).toMatchObject({
      iss: "edgelink",
      aud: "edgelink-api",
      sub: apiKeyCaller.keyId,
      ws: apiKeyCaller.workspaceId,
      scope: "links:read links:write analytics:read",
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.exp).toBe((payload.iat as number) + 900);
    expect(expiresAt.getTime()).toBe((payload.exp as number) * 1000);
    // keys:admin is never delegated, even by default.
    expect(scopes).toEqual(["links:read", "links:write", "analytics:read"]);
    expect(JSON.stringify(payload)).not.toContain(secret);
  });

  it("narrows to a requested subset and honours ttlSeconds up to the maximum", async () => {
    const { token, scopes } = await issued(apiKeyCaller, { scopes: ["links:read"], ttlSeconds: 60 });
    expect(scopes).toEqual(["links:read"]);
    const { payload } = decode(token);
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    const capped = decode((await issued(apiKeyCaller, { ttlSeconds: 999_999 })).token).payload;
    expect((capped.exp as number) - (capped.iat as number)).toBe(3600);
  });

  it("never outlives the key's own expiry", async () => {
    const keyExpiresAt = Date.now() + 120_000;
    const { expiresAt } = await issued({ ...apiKeyCaller, keyExpiresAt });
    expect(expiresAt.getTime()).toBeLessThanOrEqual(keyExpiresAt);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 100_000);
  });

  it("refuses scopes the key lacks, keys:admin, a key with nothing to delegate, and any caller but an API key", async () => {
    const reader: AuthContext = { ...apiKeyCaller, scopes: ["links:read"] };
    expect(await tokens.issue(reader, { scopes: ["links:read", "links:write"] })).toEqual({
      ok: false,
      reason: "not-held",
      scopes: ["links:write"],
    });
    expect(await tokens.issue(apiKeyCaller, { scopes: ["keys:admin"] })).toEqual({
      ok: false,
      reason: "undelegable",
      scopes: ["keys:admin"],
    });
    expect(await tokens.issue({ ...apiKeyCaller, scopes: ["keys:admin"] })).toEqual({
      ok: false,
      reason: "no-delegable-scope",
    });
    const { auth } = (await tokens.verify((await issued()).token)) as { auth: AuthContext };
    expect(await tokens.issue(auth)).toEqual({ ok: false, reason: "not-an-api-key" });
    // A context that does not say where it came from is not trusted to be an API key.
    const { credential: _, ...unmarked } = apiKeyCaller;
    expect(await tokens.issue(unmarked)).toEqual({ ok: false, reason: "not-an-api-key" });
  });
});

describe("verification", () => {
  it("gives back who the token speaks for, marked as a token", async () => {
    const { token } = await issued(apiKeyCaller, { scopes: ["links:read", "analytics:read"] });
    expect(await tokens.verify(token)).toEqual({
      ok: true,
      auth: {
        workspaceId: apiKeyCaller.workspaceId,
        keyId: apiKeyCaller.keyId,
        scopes: ["links:read", "analytics:read"],
        credential: "token",
      },
    });
  });

  it("refuses an expired token", async () => {
    const past = createTokenService({ ...options, now: () => Date.now() - 3_600_000 });
    const { token } = await issued(apiKeyCaller, {}, past);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a tampered signature or payload", async () => {
    const { token } = await issued();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = `${signature.slice(0, 5)}${signature[5] === "A" ? "B" : "A"}${signature.slice(6)}`;
    expect(await tokens.verify(`${header}.${payload}.${flipped}`)).toEqual({
      ok: false,
      reason: "signature",
    });
    const claims = decode(token).payload;
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: "links:write" })).toString("base64url");
    expect(await tokens.verify(`${header}.${widened}.${signature}`)).toEqual({
      ok: false,
      reason: "signature",
    });
    const otherTenant = Buffer.from(JSON.stringify({ ...claims, ws: randomUUID() })).toString("base64url");
    expect((await tokens.verify(`${header}.${otherTenant}.${signature}`)).ok).toBe(false);
  });

  it("refuses another issuer's or audience's token, even one signed with the same secret", async () => {
    for (const other of [{ issuer: "someone-else" }, { audience: "another-api" }]) {
      const { token } = await issued(apiKeyCaller, {}, createTokenService({ ...options, ...other }));
      expect(await tokens.verify(token)).toEqual({ ok: false, reason: "claims" });
    }
  });

  it("refuses a token of another secret, an unknown or missing kid, alg none/HS512, and claims it did not sign", async () => {
    const { token } = await issued(
      apiKeyCaller,
      {},
      createTokenService({ ...options, secret: "x".repeat(40) }),
    );
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: "unknown-kid" });
    const kid = decode((await issued()).token).header.kid!;
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: "edgelink",
      aud: "edgelink-api",
      sub: randomUUID(),
      ws: randomUUID(),
      scope: "links:read",
      iat: now,
      exp: now + 60,
    };
    // The right kid, the wrong key.
    expect(await tokens.verify(await forged(good, kid, "y".repeat(40)))).toEqual({
      ok: false,
      reason: "signature",
    });
    expect((await tokens.verify(await forged(good, kid))).ok).toBe(true);
    expect((await tokens.verify(await forged(good, kid, secret, "HS512"))).ok).toBe(false);
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid })).toString("base64url")}.${Buffer.from(JSON.stringify(good)).toString("base64url")}.AA`;
    expect(await tokens.verify(none)).toEqual({ ok: false, reason: "malformed" });
    const { exp: _, ...forever } = good;
    expect(await tokens.verify(await forged(forever, kid))).toEqual({ ok: false, reason: "claims" });
    expect(await tokens.verify(await forged({ ...good, iat: now + 3600 }, kid))).toEqual({
      ok: false,
      reason: "claims",
    });
    expect(await tokens.verify(await forged({ ...good, ws: "not-a-uuid" }, kid))).toEqual({
      ok: false,
      reason: "claims",
    });
    expect(await tokens.verify("e30.e30.e30")).toEqual({ ok: false, reason: "unknown-kid" });
    expect(await tokens.verify("%%%.e30.e30")).toEqual({ ok: false, reason: "malformed" });
  });

  it("drops keys:admin and unknown scopes from a token, however it was signed", async () => {
    const kid = decode((await issued()).token).header.kid!;
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: "edgelink", aud: "edgelink-api", sub: randomUUID(), ws: randomUUID(), iat: now };
    const result = await tokens.verify(
      await forged({ ...claims, exp: now + 60, scope: "keys:admin links:read links:everything" }, kid),
    );
    expect(result.ok && result.auth.scopes).toEqual(["links:read"]);
  });

  it("accepts a retired secret's tokens while it is listed in previousSecrets (rotation)", async () => {
    const old = await issued();
    const rotated = createTokenService({ ...options, secret: "n".repeat(40), previousSecrets: [secret] });
    expect((await rotated.verify(old.token)).ok).toBe(true);
    expect((await rotated.verify((await issued(apiKeyCaller, {}, rotated)).token)).ok).toBe(true);
    expect(decode((await issued(apiKeyCaller, {}, rotated)).token).header.kid).not.toBe(
      decode(old.token).header.kid,
    );
    const retired = createTokenService({ ...options, secret: "n".repeat(40) });
    expect(await retired.verify(old.token)).toEqual({ ok: false, reason: "unknown-kid" });
  });

  it("without a secret exchanges nothing and accepts nothing", async () => {
    const off = createTokenService({ ...options, secret: undefined });
    expect(off.enabled).toBe(false);
    expect(await off.issue(apiKeyCaller)).toEqual({ ok: false, reason: "disabled" });
    expect(await off.verify((await issued()).token)).toEqual({ ok: false, reason: "disabled" });
  });
});

describe("looksLikeJwt", () => {
  it("tells tokens from API keys by shape", async () => {
    expect(looksLikeJwt((await issued()).token)).toBe(true);
    expect(looksLikeJwt(generateApiKey())).toBe(false);
    expect(looksLikeJwt("a.b")).toBe(false);
    expect(looksLikeJwt(`${"a".repeat(5000)}.bb.cc`)).toBe(false);
  });
});

describe("JWT configuration", () => {
  it("validates the secret's length, the lifetimes and rotation without a current secret", () => {
    expect(() => loadConfig({ JWT_SECRET: "short" })).toThrow(
      /^invalid configuration: JWT_SECRET: must be at least 32 characters/,
    );
    expect(() => loadConfig({ JWT_TTL_SECONDS: "7200" })).toThrow(
      /^invalid configuration: JWT_TTL_SECONDS: must not exceed JWT_MAX_TTL_SECONDS/,
    );
    expect(() => loadConfig({ JWT_PREVIOUS_SECRETS: "p".repeat(40) })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_SECRET: secret, JWT_PREVIOUS_SECRETS: `${"p".repeat(40)},tiny` })).toThrow(
      /JWT_PREVIOUS_SECRETS/,
    );
    const config = loadConfig({ JWT_SECRET: secret, JWT_PREVIOUS_SECRETS: ` ${"p".repeat(40)} ,` });
    expect(config).toMatchObject({
      JWT_SECRET: secret,
      JWT_PREVIOUS_SECRETS: ["p".repeat(40)],
      JWT_TTL_SECONDS: 900,
      JWT_MAX_TTL_SECONDS: 3600,
      JWT_ISSUER: "edgelink",
      JWT_AUDIENCE: "edgelink-api",
    });
  });

  it("the Node entry makes one random secret when none is set, hands it on through the environment and never logs it", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
    const env: Record<string, string | undefined> = {};
    const config = withJwtSecret(loadConfig({}), env, logger);
    expect(config.JWT_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(env.JWT_SECRET).toBe(config.JWT_SECRET);
    // What a forked worker reads: the same secret.
    expect(loadConfig(env).JWT_SECRET).toBe(config.JWT_SECRET);
    expect(lines.join("\n")).toContain("JWT_SECRET unset");
    expect(lines.join("\n")).not.toContain(config.JWT_SECRET);
    expect(withJwtSecret(loadConfig({}), {}, logger).JWT_SECRET).not.toBe(config.JWT_SECRET);

    const configured = loadConfig({ JWT_SECRET: secret });
    const untouched: Record<string, string | undefined> = {};
    expect(withJwtSecret(configured, untouched, logger)).toBe(configured);
    expect(untouched).toEqual({});
  });
});
