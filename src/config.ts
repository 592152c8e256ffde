import { z } from "zod";

/** A comma-separated list of `item`s, each trimmed; empty or unset means none. */
const commaList = (item: z.ZodType<string, string>) =>
  z
    .string()
    .optional()
    .transform((value) =>
      (value ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

const urlList = commaList(z.url());

const boolFlag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((value) => value === "true" || value === "1");

/** A rate-limit policy written `limit/window`, e.g. `600/60s`, `10/15m`. */
const ratePolicy = z
  .string()
  .regex(/^\d+\/\d+(ms|s|m|h)$/, "must look like 600/60s (limit/window with ms, s, m or h)")
  .transform((value) => {
    const [limit, window] = value.split("/") as [string, string];
    const amount = Number.parseInt(window, 10);
    const unit = window.replace(/^\d+/, "");
    const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
    return { limit: Number.parseInt(limit, 10), windowMs: amount * factor };
  })
  .refine((policy) => policy.limit > 0 && policy.windowMs >= 1_000, "needs a limit ≥ 1 and a window ≥ 1s");

const seconds = (fallback: number, max = 86_400 * 30) =>
  z.coerce.number().int().min(0).max(max).default(fallback);

const postgresUrl = z
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), "must be a postgres:// or postgresql:// URL");

/**
 * Every setting edgelink reads, validated once at start. This module is the only reader of the
 * environment (Node: `process.env`, Workers: bindings), so every other module gets typed values.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default("0.0.0.0"),
    WEB_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
    /**
     * Cap on each of V8's two young-generation semi-spaces in the cluster workers (MB; 0 leaves V8's
     * own). Node 24 grows them to 64 MB on a host with plenty of RAM: 128 MB of every worker's RSS
     * then holds short-lived garbage, which alone breaks a streamed import's flat-memory bound.
     * 8 keeps a 1M-line import under 256 MB (16 did not, quite) at the same redirect and import
     * throughput (bench/README.md, sixth session). An operator's own --max-semi-space-size
     * (command line or NODE_OPTIONS) wins.
     */
    V8_MAX_SEMI_SPACE_MB: z.coerce.number().int().min(0).max(1_024).default(8),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),

    DATABASE_URL: postgresUrl.optional(),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(10),
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    DATABASE_REPLICA_URLS: urlList,
    PGLITE_DATA_DIR: z.string().min(1).default(".data/pglite"),
    /** Local stand-in for Neon's SQL-over-HTTP endpoint (dev and tests only). */
    NEON_FETCH_ENDPOINT: z.url().optional(),

    REDIS_URL: z
      .url()
      .refine((value) => /^rediss?:\/\//.test(value), "must be a redis:// or rediss:// URL")
      .optional(),
    UPSTASH_REDIS_REST_URL: z.url().optional(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),

    /** Hostnames that serve short links; the first is where links go when none is named. */
    SHORT_DOMAINS: z
      .string()
      .default("localhost")
      .transform((value) =>
        value
          .split(",")
          .map((part) => part.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[a-z0-9.-]+$/, "must be hostnames without scheme or port")).min(1)),

    /** Length of generated slugs (base62 from a CSPRNG). */
    SLUG_LENGTH: z.coerce.number().int().min(4).max(32).default(7),
    /** Hosts links may never point to (a host and all its subdomains), comma-separated. */
    URL_BLOCKLIST: z
      .string()
      .default("")
      .transform((value) =>
        value
          .split(",")
          .map((part) => part.trim().toLowerCase())
          .filter(Boolean),
      ),
    /** How long an Idempotency-Key is remembered (and its response replayed). */
    IDEMPOTENCY_TTL_SECONDS: seconds(86_400),

    /** Redirect cache tiers: in-process (bounds cross-instance staleness) → Redis → Postgres. */
    LINK_CACHE_LOCAL_TTL_SECONDS: seconds(5, 300),
    LINK_CACHE_LOCAL_MAX: z.coerce.number().int().min(0).max(10_000_000).default(50_000),
    LINK_CACHE_REDIS_TTL_SECONDS: seconds(3_600),
    /** Unknown slugs are remembered this long, so a flood of misses never reaches Postgres. */
    NEGATIVE_CACHE_TTL_SECONDS: seconds(30, 3_600),
    /** API key lookups are cached this long per process: the bound on revocation elsewhere. */
    API_KEY_CACHE_TTL_SECONDS: seconds(5, 300),

    /**
     * Signs the short-lived tokens of `POST /api/v1/auth/token` (HS256). Unset: the Node entry makes
     * a random one per start (a cluster's primary hands it to its workers), so tokens die with the
     * process; on the edge, where isolates cannot share one, token exchange is off. See README.
     */
    JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    /** Retired signing secrets still accepted for verification, comma-separated (key rotation). */
    JWT_PREVIOUS_SECRETS: commaList(z.string().min(32, "each secret must be at least 32 characters")),
    /** Lifetime of a token when the caller asks for none, and the most a caller may ask for. */
    JWT_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
    JWT_MAX_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(3_600),
    /** `iss` and `aud` of the tokens; both are checked on every verification. */
    JWT_ISSUER: z.string().min(1).max(200).default("edgelink"),
    JWT_AUDIENCE: z.string().min(1).max(200).default("edgelink-api"),

    RATE_LIMIT_REDIRECT: ratePolicy.prefault("600/60s"),
    RATE_LIMIT_API_READ: ratePolicy.prefault("1200/60s"),
    RATE_LIMIT_API_WRITE: ratePolicy.prefault("300/60s"),
    RATE_LIMIT_PASSWORD: ratePolicy.prefault("10/15m"),
    /** Longest a rate-limit decision may wait on Redis before failing open (redirects) or closed. */
    RATE_LIMIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(5_000).default(50),
    /** Header carrying the client IP from a trusted proxy (Node); the edge uses CF-Connecting-IP. */
    CLIENT_IP_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),

    /** How long a stats answer is cached (cache port) and may be cached by the client; 0 turns it off. */
    STATS_CACHE_SECONDS: seconds(30, 3_600),
    /** Rows per keyset page of a click export: the most a streamed export holds in memory at once. */
    EXPORT_PAGE_SIZE: z.coerce.number().int().min(100).max(10_000).default(2_000),
    /** Largest body of any other API request (and of a password form): past it, 413. */
    API_BODY_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1_024)
      .max(16 * 1024 * 1024)
      .default(128 * 1024),
    /** Largest body `POST /links/bulk` reads; past it the import stops with a final 413 line. */
    IMPORT_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1_024)
      .max(2 ** 31)
      .default(100 * 1024 * 1024),
    /** Links inserted per statement by a bulk import (one result line per input line as each is done). */
    IMPORT_BATCH_SIZE: z.coerce.number().int().min(1).max(2_000).default(500),

    /** Header carrying the visitor's country from a trusted proxy (Node); the edge uses request.cf. */
    GEO_COUNTRY_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),

    /**
     * Click analytics on or off. Off: redirects are served and counted in metrics
     * (`clicks_served_total`) but no click is queued or stored; maxClicks still counts in Postgres.
     */
    CLICK_RECORDING: z.enum(["on", "off"]).default("on"),
    /**
     * Click analytics: where the Node consumer runs. auto: in a cluster, a process of its own forked
     * by the primary (in a single process, that process); off: not in the server (`npm run consumer`).
     */
    CLICK_CONSUMER: z.enum(["auto", "off"]).default("auto"),
    /**
     * How many steps of CPU priority (nice) below the web workers the cluster's consumer process
     * runs: under full load redirects win the CPU and the stream holds the backlog; it then also
     * paces its Postgres statements (platform/node/consumer-pacing.ts). 0: the same, no pacing.
     */
    CLICK_CONSUMER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Raw clicks older than this are pruned by maintenance; rollups are kept forever. */
    CLICK_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
    /**
     * Events per consumer statement (and per in-process flush). Unset: 500 for a Redis Streams
     * consumer, which runs apart from the redirects (~18% more clicks/s and ~25 µs less CPU per click
     * than 100: bench click-ingest); 100 for the embedded in-process queue, whose batches PGlite
     * stores inside the serving process, so a larger one would be a longer pause for the redirects.
     */
    CLICK_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).optional(),
    /** The in-process queue flushes a partial batch after this long. */
    CLICK_FLUSH_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    /**
     * Node: the clicks a process serves within this many ms are handed to the queue together (one
     * round trip per batch instead of per click); also the most a crash can lose of them.
     */
    CLICK_HANDOFF_MS: z.coerce.number().int().min(0).max(1_000).default(10),
    /** Deliveries of one stream entry before it is parked in the dead-letter stream. */
    CLICK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    /** Pending stream entries idle this long belong to a dead consumer and are claimed. */
    CLICK_CLAIM_IDLE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    /** Redis Streams key (under the `el:` prefix) and its approximate length cap. */
    CLICK_STREAM_KEY: z
      .string()
      .regex(/^[A-Za-z0-9:_-]+$/)
      .default("clicks:stream"),
    CLICK_STREAM_MAXLEN: z.coerce.number().int().min(1_000).max(1_000_000_000).default(1_000_000),

    READINESS_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(1_000),
    METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    /**
     * `npm run consumer`: port of its `/metrics` and `/healthz` listener (on HOST); unset, none. Off
     * by default because several consumers may run on one host; 0 picks a free port (logged).
     */
    CONSUMER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    TRUST_PROXY: boolFlag,
  })
  .superRefine((config, ctx) => {
    if (Boolean(config.UPSTASH_REDIS_REST_URL) !== Boolean(config.UPSTASH_REDIS_REST_TOKEN)) {
      ctx.addIssue({
        code: "custom",
        path: [config.UPSTASH_REDIS_REST_URL ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL"],
        message: "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together",
      });
    }
    if (config.JWT_TTL_SECONDS > config.JWT_MAX_TTL_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_TTL_SECONDS"],
        message: "must not exceed JWT_MAX_TTL_SECONDS",
      });
    }
    if (config.JWT_PREVIOUS_SECRETS.length > 0 && !config.JWT_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET"],
        message: "must be set when JWT_PREVIOUS_SECRETS is (rotation keeps a current secret)",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Raised when the environment does not describe a runnable edgelink; the message is one line. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment into a {@link Config}. Empty strings count as unset, so a blank line in a
 * `.env` file falls back to the default instead of failing validation.
 *
 * @example
 * const config = loadConfig(process.env); // Node
 * const config = loadConfig(env);         // Worker bindings
 */
export function loadConfig(source: Record<string, unknown>): Config {
  const env: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== "") env[key] = value;
  }
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = issue?.path.join(".") || "environment";
  const received =
    issue?.path[0] !== undefined && env[String(issue.path[0])] === undefined ? " (missing)" : "";
  throw new ConfigError(`invalid configuration: ${variable}${received}: ${issue?.message ?? "invalid"}`);
}
