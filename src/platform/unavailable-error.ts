/** Socket errors that mean "could not reach it", not "it refused the request". */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Postgres SQLSTATEs of a server that is going away or cannot take the connection: class 08
 * (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300 (too many
 * connections).
 */
const unavailableStates = /^(08...|57P0[1-3]|53300)$/;

/** node-postgres reports a dropped or never-made connection by message only, with no code. */
const pgConnectionMessages =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect)$/;

/**
 * Whether `error` (or any error in its `cause` chain) says a backing service could not be reached —
 * a refused or dropped connection, Postgres shutting down, Neon's HTTP endpoint unreachable — as
 * opposed to a bug or a query the database rejected. Such a failure may succeed on retry, so the
 * HTTP layer answers 503 with Retry-After instead of 500.
 *
 * @example
 * isUnavailableError(new DrizzleQueryError("select 1", [], Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))); // true
 */
export function isUnavailableError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth++) {
    const { code, message, name, sourceError, errors } = current as {
      code?: unknown;
      message?: unknown;
      name?: unknown;
      sourceError?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && (networkCodes.has(code) || unavailableStates.test(code))) return true;
    if (typeof message === "string" && pgConnectionMessages.test(message)) return true;
    // Neon over HTTP: the fetch itself failed (the SQL never reached Postgres).
    if (name === "NeonDbError" && sourceError !== undefined) return true;
    // Node's connect() to a name with several addresses fails with an AggregateError of them.
    if (Array.isArray(errors) && errors.some(isUnavailableError)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
