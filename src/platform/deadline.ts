/** Raised when a dependency does not answer within its budget. */
export class DeadlineExceededError extends Error {
  override name = "DeadlineExceededError";
}

/**
 * Settles with `work`, or rejects once `ms` have passed. The work itself is not cancelled (most
 * drivers cannot be), so callers use this only where an answer after the deadline is useless anyway.
 *
 * @example
 * await withDeadline(db.ping(), 1000, "postgres");
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
