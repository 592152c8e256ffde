import { z } from "@hono/zod-openapi";

/**
 * A whole-number query parameter within [min, max]. Every way of getting it wrong (`ten`, `2.5`,
 * `0`, empty) gets the one message that says what would be right, not zod's "received NaN".
 */
export function wholeNumberParam(min: number, max: number, fallback: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(fallback);
}
