import { z } from "@hono/zod-openapi";
import { wholeNumberParam } from "../http/query-schemas";
import type { Link } from "./link-repository";
import { slugSchema } from "./slug";
import { maxUrlLength } from "./url-safety";

const futureDate = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine((date) => date.getTime() > Date.now(), "must be in the future")
  .openapi({ example: "2030-01-01T00:00:00Z" });

const url = z.string().min(1).max(maxUrlLength).openapi({ example: "https://example.com/launch?ref=x" });
const headerSafe = z.string().regex(/^[\x20-\x7e]{1,200}$/, "must be 1-200 printable ASCII characters");
/**
 * Free text bound for Postgres: `text` and `jsonb` cannot hold U+0000, so it is refused here as a
 * 400 naming the field rather than failing in the database as a 500.
 */
const storableText = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((value) => !value.includes("\u0000"), "must not contain NUL characters");
const utmValue = storableText(1, 200);

export const ruleSchema = z
  .object({
    device: z
      .array(z.enum(["desktop", "mobile", "tablet"]))
      .min(1)
      .optional(),
    country: z
      .array(z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code"))
      .min(1)
      .max(250)
      .optional(),
    url,
  })
  .strict()
  .refine((rule) => rule.device || rule.country, "a rule needs a device or a country condition");

const fields = {
  url,
  slug: slugSchema,
  domain: z.string().min(1).max(253),
  title: storableText(0, 200).nullable(),
  tags: z
    .array(z.string().regex(/^[\p{L}\p{N} _.:-]{1,50}$/u, "must be 1-50 letters, digits, spaces or _ . : -"))
    .max(20)
    .refine((tags) => new Set(tags).size === tags.length, "must not repeat a tag"),
  expiresAt: futureDate.nullable(),
  expiredUrl: url.nullable(),
  maxClicks: z.number().int().min(1).max(1_000_000_000).nullable(),
  redirectStatus: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]),
  cacheControl: headerSafe,
  password: z.string().min(1).max(200).nullable(),
  utm: z
    .object({
      utm_source: utmValue,
      utm_medium: utmValue,
      utm_campaign: utmValue,
      utm_term: utmValue,
      utm_content: utmValue,
    })
    .partial()
    .strict()
    .nullable(),
  rules: z.array(ruleSchema).max(20).nullable(),
};

export const createLinkSchema = z
  .object({ ...fields, url })
  .partial()
  .required({ url: true })
  .strict()
  .openapi("CreateLink");

export const updateLinkSchema = z
  .object(fields)
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, "must change at least one field")
  .openapi("UpdateLink");

export const linkSchema = z
  .object({
    id: z.uuid(),
    shortUrl: z.string(),
    domain: z.string(),
    slug: z.string(),
    url: z.string(),
    title: z.string().nullable(),
    tags: z.array(z.string()),
    expiresAt: z.string().nullable(),
    expiredUrl: z.string().nullable(),
    maxClicks: z.number().nullable(),
    clickCount: z.number(),
    redirectStatus: z.number(),
    cacheControl: z.string(),
    passwordProtected: z.boolean(),
    utm: z.record(z.string(), z.string()).nullable(),
    rules: z.array(z.any()).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Link");

export const linkIdParams = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

export const listLinksQuery = z.object({
  limit: wholeNumberParam(1, 100, 20),
  cursor: z.string().max(200).optional(),
  tag: storableText(1, 50).optional(),
  q: storableText(1, 100).optional().openapi({
    description:
      "A piece of the title, URL or custom slug (case-insensitive), or a generated slug whole (exact case).",
  }),
});

export const qrQuery = z.object({
  format: z.enum(["svg", "png"]).default("svg"),
  size: wholeNumberParam(64, 2048, 256),
});

/**
 * The public URL of a short link. A short domain is served over https on the default port;
 * `localhost`, where a developer runs edgelink, is plain http on the port edgelink listens on
 * (PORT: 80 and 0, a port picked at start, are left out), so that the URL the API answers — and the
 * QR code made of it — opens the link.
 *
 * @example
 * shortUrl("go.example.com", "launch", 3000); // "https://go.example.com/launch"
 * shortUrl("localhost", "launch", 3000); // "http://localhost:3000/launch"
 */
export function shortUrl(domain: string, slug: string, localPort: number): string {
  if (domain !== "localhost") return `https://${domain}/${slug}`;
  const port = localPort === 80 || localPort === 0 ? "" : `:${localPort}`;
  return `http://localhost${port}/${slug}`;
}

/** The API's view of a link: never the password hash, only whether there is one. */
export function presentLink(link: Link, localPort: number): z.infer<typeof linkSchema> {
  const { passwordHash, workspaceId: _workspace, slugCustom: _custom, ...rest } = link;
  return {
    ...rest,
    shortUrl: shortUrl(link.domain, link.slug, localPort),
    expiresAt: link.expiresAt?.toISOString() ?? null,
    createdAt: link.createdAt.toISOString(),
    updatedAt: link.updatedAt.toISOString(),
    passwordProtected: passwordHash !== null,
  };
}

/** Keyset cursors are opaque to clients: base64url of `createdAt ms:id`. */
export const linkCursor = {
  encode: (cursor: { createdAt: Date; id: string }) =>
    btoa(`${cursor.createdAt.getTime()}:${cursor.id}`)
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, ""),
  decode(text: string): { createdAt: Date; id: string } | null {
    try {
      const [ms, id] = atob(text.replaceAll("-", "+").replaceAll("_", "/")).split(":");
      const createdAt = new Date(Number(ms));
      if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) return null;
      return { createdAt, id };
    } catch {
      return null;
    }
  },
};
