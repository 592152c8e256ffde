import { randomBytes } from "node:crypto";
import type { Config } from "../config";
import type { Logger } from "../platform/log/logger";

/**
 * The Node entry's answer to an unset JWT_SECRET: a random secret made once at start, put in
 * `env` so every process the primary forks (workers, their replacements, the consumer) inherits
 * the same one. Tokens then verify anywhere in this process or cluster and stop working when it
 * restarts; another host has its own secret and refuses them. The secret is never logged.
 *
 * @example
 * config = withJwtSecret(config, process.env, logger); // in the primary, before forking
 */
export function withJwtSecret(
  config: Config,
  env: Record<string, string | undefined>,
  logger: Logger,
): Config {
  if (config.JWT_SECRET) return config;
  const secret = randomBytes(32).toString("base64url");
  env.JWT_SECRET = secret;
  logger.warn(
    "JWT_SECRET unset: tokens from POST /api/v1/auth/token are signed with a secret made at start, " +
      "so they stop working when edgelink restarts and other hosts refuse them; set JWT_SECRET to share one",
  );
  return { ...config, JWT_SECRET: secret };
}
