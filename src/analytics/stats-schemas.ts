import { z } from "@hono/zod-openapi";
import { wholeNumberParam } from "../http/query-schemas";

/** An instant in a query string: ISO 8601 with an offset, or a plain date meaning 00:00 UTC. */
const instantForm = "an ISO 8601 date-time with an offset (2026-11-01T00:00:00Z) or a date (2026-11-01)";
export const instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: (issue) => (issue.input === undefined ? `is required: ${instantForm}` : `must be ${instantForm}`),
  })
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value))
  .openapi({ example: "2026-11-01T00:00:00Z" });

export const statsDimensions = ["country", "device", "browser", "os", "referrer", "reason"] as const;
export type StatsDimension = (typeof statsDimensions)[number];

/** `groupBy=country,device` or `groupBy=country&groupBy=device`. */
const groupBy = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(",")))
  .pipe(z.array(z.enum(statsDimensions)).max(statsDimensions.length))
  .transform((dimensions) => [...new Set(dimensions)].sort())
  .openapi({ type: "string", example: "country,device" });

export const statsQuery = z.object({
  from: instant.optional().openapi({
    description: "Start, rounded down to its bucket. Default: 24 h (hour) or 30 days (day) before `to`.",
  }),
  to: instant.optional().openapi({
    description: "End (exclusive), rounded up to its bucket. Default: the end of the current bucket.",
  }),
  interval: z.enum(["hour", "day"]).default("day"),
  groupBy: groupBy.optional().openapi({
    description:
      "Breakdowns of human clicks. `reason` breaks bots and previews down by why they were classified so, counted from raw clicks (kept CLICK_RETENTION_DAYS), not rollups.",
  }),
  top: wholeNumberParam(1, 100, 10).openapi({
    description: "Values per breakdown; the rest add up to `other`.",
  }),
});
export type StatsQuery = z.infer<typeof statsQuery>;

const counted = z.object({ value: z.string(), clicks: z.number().int() });
const breakdown = z.object({ top: z.array(counted), other: z.number().int() });

export const statsSchema = z
  .object({
    linkId: z.uuid(),
    interval: z.enum(["hour", "day"]),
    from: z.string().describe("Start of the first bucket (UTC)"),
    to: z.string().describe("End of the last bucket, exclusive"),
    clicks: z.number().int().describe("Human clicks: what maxClicks counts"),
    uniques: z
      .number()
      .int()
      .nullable()
      .describe(
        "Unique visitors: PFCOUNT over the per-day HyperLogLogs of every UTC day the range touches (about 0.8% standard error; exact on the embedded in-process cache); null when the cache cannot be reached",
      ),
    allTimeClicks: z
      .number()
      .int()
      .nullable()
      .describe(
        "Human clicks since the link was created, from the live counter in Redis (best effort: it can lag Postgres, never lead it); null when it cannot be read",
      ),
    bots: z.number().int().describe("Bot requests, redirected but not counted as clicks"),
    previews: z.number().int().describe("Link-preview fetches (Slack, X, …), redirected but not counted"),
    series: z
      .array(
        z.object({
          start: z.string(),
          clicks: z.number().int(),
          bots: z.number().int(),
          previews: z.number().int(),
        }),
      )
      .describe("One point per bucket, zero-filled"),
    breakdowns: z
      .object({
        country: breakdown,
        device: breakdown,
        browser: breakdown,
        os: breakdown,
        referrer: breakdown,
      })
      .partial()
      .describe("Human clicks per value of each requested dimension (unknown / direct included)"),
    reasons: z
      .object({ bot: z.array(counted), preview: z.array(counted) })
      .optional()
      .describe("With groupBy=reason: bots and previews per reason, from raw clicks still retained"),
  })
  .openapi("LinkStats");
export type LinkStats = z.infer<typeof statsSchema>;
