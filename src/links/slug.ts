import { z } from "@hono/zod-openapi";

/** Paths the service itself answers; they can never be slugs. */
export const reservedSlugs = new Set([
  "api",
  "healthz",
  "readyz",
  "metrics",
  "docs",
  "openapi.json",
  "favicon.ico",
  "robots.txt",
  "admin",
  "static",
]);

/** Case-sensitive, 1–64 characters of `[A-Za-z0-9_-]`, never a reserved word. */
export const slugSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
  .refine((slug) => !reservedSlugs.has(slug.toLowerCase()), "is a reserved word")
  .openapi({ example: "launch-2026" });

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * CSPRNG bytes drawn 4 KiB at a time and each used once: one `getRandomValues` call per slug was
 * the most expensive line of a bulk import (the call, not the randomness, costs).
 */
const pool = new Uint8Array(4096);
let pooled = 0;

function randomByte(): number {
  if (pooled === 0) {
    crypto.getRandomValues(pool);
    pooled = pool.length;
  }
  pooled -= 1;
  return pool[pooled]!;
}

/**
 * A random base62 slug from the platform CSPRNG. Bytes ≥ 248 are rejected so every character is
 * equally likely (256 is not a multiple of 62).
 */
export function generateSlug(length: number): string {
  let slug = "";
  while (slug.length < length) {
    const byte = randomByte();
    if (byte < 248) slug += alphabet[byte % 62];
  }
  return slug;
}
