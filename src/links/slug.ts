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
