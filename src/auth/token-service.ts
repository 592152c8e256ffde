import { z } from "@hono/zod-openapi";
import { decode, sign, verify } from "hono/jwt";
import { type AuthContext, scopes as knownScopes, type Scope } from "./scopes";

/**
 * Scopes a token never carries. A token holding `keys:admin` could mint a long-lived key and so
 * outlive both its own `exp` and the revocation of the key it came from: key management always
 * takes the API key itself (whose every use is checked against revocation).
 */
export const undelegableScopes: readonly Scope[] = ["keys:admin"];

/** How far ahead of this host's clock another host may have stamped `iat`. */
const clockSkewSeconds = 60;
const jwtShape = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}$/;
const hmac = { name: "HMAC", hash: "SHA-256" } as const;
const delegable = new Set<string>(knownScopes.filter((scope) => !undelegableScopes.includes(scope)));

/**
 * Whether a bearer credential is shaped like a JWT (three base64url segments). API keys
 * (`elk_` + base62, no dots) never are, so the middleware routes each to its own check.
 */
export function looksLikeJwt(token: string): boolean {
  return token.length <= 4_096 && jwtShape.test(token);
}

export interface TokenServiceOptions {
  /** Signs new tokens and verifies them; undefined turns token exchange off. */
  secret: string | undefined;
  /** Retired secrets, still accepted for verification until their tokens have expired. */
  previousSecrets?: readonly string[];
  issuer: string;
  audience: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Epoch milliseconds of "now" when issuing (tests mint expired tokens with it). */
  now?: () => number;
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
  /** Lifetime in seconds from its `iat`. */
  expiresIn: number;
  scopes: Scope[];
}

/** Why an exchange is refused; the HTTP layer turns each into a problem. */
export type IssueFailure =
  | { reason: "disabled" }
  | { reason: "not-an-api-key" }
  | { reason: "undelegable"; scopes: Scope[] }
  | { reason: "not-held"; scopes: Scope[] }
  | { reason: "no-delegable-scope" };

/** Why a token is refused. The HTTP layer answers all of them alike; metrics tell them apart. */
export type TokenRefusal = "disabled" | "malformed" | "unknown-kid" | "signature" | "expired" | "claims";

const claimsSchema = z.object({
  sub: z.uuid(),
  ws: z.uuid(),
  scope: z.string().max(1_000),
  iat: z.number().int(),
  exp: z.number().int(),
});

/** hono/jwt's errors quote the token: only their class name is kept, never their message. */
function refusalOf(error: unknown): TokenRefusal {
  switch (error instanceof Error ? error.name : "") {
    case "JwtTokenExpired":
      return "expired";
    case "JwtTokenSignatureMismatched":
      return "signature";
    case "JwtTokenIssuer":
    case "JwtTokenAudience":
    case "JwtPayloadRequiresAud":
    case "JwtTokenNotBefore":
      return "claims";
    default:
      return "malformed";
  }
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/**
 * `kid` of a secret: 64 bits of a SHA-256 of it. It names the secret in the token header so a
 * verifier picks it among the current and retired ones without trying each; it reveals nothing
 * usable about a secret of 32+ characters.
 */
async function keyIdOf(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`edgelink-jwt:${secret}`));
  return base64url(new Uint8Array(digest).slice(0, 8));
}

interface Keys {
  signing: { kty: "oct"; k: string; alg: "HS256"; kid: string };
  verifying: Map<string, CryptoKey>;
}

/**
 * Short-lived HS256 tokens in exchange for an API key. Verifying one is pure computation (an HMAC
 * and a few comparisons): no Postgres, no Redis. The price is the revocation bound: a token stays
 * valid until its `exp`, whatever happens to its key meanwhile, so lifetimes are short
 * (`defaultTtlSeconds`, at most `maxTtlSeconds`) and never outlast the key's own expiry.
 *
 * @example
 * const tokens = createTokenService({ secret, issuer: "edgelink", audience: "edgelink-api",
 *   defaultTtlSeconds: 900, maxTtlSeconds: 3600 });
 * const issued = await tokens.issue(auth, { scopes: ["links:read"] });
 * const result = await tokens.verify(issued.token); // { ok: true, auth: { workspaceId, keyId, … } }
 */
export function createTokenService(options: TokenServiceOptions) {
  const now = options.now ?? Date.now;
  const secret = options.secret;
  let keys: Promise<Keys> | undefined;

  // Built on first use: workerd forbids crypto work in global scope, and the keys never change.
  function keysOnce(current: string): Promise<Keys> {
    keys ??= (async () => {
      const verifying = new Map<string, CryptoKey>();
      for (const each of [current, ...(options.previousSecrets ?? [])]) {
        const raw = new TextEncoder().encode(each);
        verifying.set(
          await keyIdOf(each),
          await crypto.subtle.importKey("raw", raw, hmac, false, ["verify"]),
        );
      }
      const k = base64url(new TextEncoder().encode(current));
      return { signing: { kty: "oct", k, alg: "HS256", kid: await keyIdOf(current) }, verifying };
    })();
    return keys;
  }

  return {
    /** False when no secret is configured: exchange answers 503 and every token is refused. */
    enabled: secret !== undefined,

    /**
     * A token for the API key `auth` came from, with `scopes` (default: every delegable scope of
     * the key) for `ttlSeconds` (default `defaultTtlSeconds`, capped at `maxTtlSeconds` and at the
     * key's own expiry).
     */
    async issue(
      auth: AuthContext,
      request: { scopes?: readonly Scope[]; ttlSeconds?: number } = {},
    ): Promise<({ ok: true } & IssuedToken) | ({ ok: false } & IssueFailure)> {
      if (secret === undefined) return { ok: false, reason: "disabled" };
      // Fail closed: only a caller the API-key path marked as such may exchange.
      if (auth.credential !== "api-key") return { ok: false, reason: "not-an-api-key" };
      let scopes: Scope[];
      if (request.scopes) {
        const undelegable = request.scopes.filter((scope) => !delegable.has(scope));
        if (undelegable.length > 0) return { ok: false, reason: "undelegable", scopes: undelegable };
        const missing = request.scopes.filter((scope) => !auth.scopes.includes(scope));
        if (missing.length > 0) return { ok: false, reason: "not-held", scopes: missing };
        scopes = [...new Set(request.scopes)];
      } else {
        scopes = auth.scopes.filter((scope) => delegable.has(scope));
        if (scopes.length === 0) return { ok: false, reason: "no-delegable-scope" };
      }
      const issuedAt = Math.floor(now() / 1000);
      const ttl = Math.min(request.ttlSeconds ?? options.defaultTtlSeconds, options.maxTtlSeconds);
      const keyExpiry = auth.keyExpiresAt ? Math.floor(auth.keyExpiresAt / 1000) : Number.POSITIVE_INFINITY;
      const exp = Math.min(issuedAt + ttl, keyExpiry);
      const token = await sign(
        {
          iss: options.issuer,
          aud: options.audience,
          sub: auth.keyId,
          ws: auth.workspaceId,
          scope: scopes.join(" "),
          iat: issuedAt,
          exp,
          jti: crypto.randomUUID(),
        },
        (await keysOnce(secret)).signing,
      );
      return { ok: true, token, expiresAt: new Date(exp * 1000), expiresIn: exp - issuedAt, scopes };
    },

    /** Who a token speaks for, or why it is refused. Touches no database or cache. */
    async verify(
      token: string,
    ): Promise<{ ok: true; auth: AuthContext } | { ok: false; reason: TokenRefusal }> {
      if (secret === undefined) return { ok: false, reason: "disabled" };
      const { verifying } = await keysOnce(secret);
      let kid: string | undefined;
      try {
        kid = decode(token).header.kid;
      } catch {
        return { ok: false, reason: "malformed" };
      }
      const key = kid === undefined ? undefined : verifying.get(kid);
      if (!key) return { ok: false, reason: "unknown-kid" };
      let payload: unknown;
      try {
        // Pinned to HS256, so a header naming another algorithm (or "none") is refused. `iat` is
        // checked below with room for clock skew between the hosts that mint and verify.
        payload = await verify(token, key, {
          alg: "HS256",
          iss: options.issuer,
          aud: options.audience,
          iat: false,
        });
      } catch (error) {
        return { ok: false, reason: refusalOf(error) };
      }
      const claims = claimsSchema.safeParse(payload);
      // hono checks `exp` only when present; every token of ours has one, so one without is forged.
      if (!claims.success) return { ok: false, reason: "claims" };
      if (claims.data.iat > Math.floor(Date.now() / 1000) + clockSkewSeconds) {
        return { ok: false, reason: "claims" };
      }
      const scopes = claims.data.scope.split(" ").filter((scope): scope is Scope => delegable.has(scope));
      return {
        ok: true,
        auth: { workspaceId: claims.data.ws, keyId: claims.data.sub, scopes, credential: "token" },
      };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
