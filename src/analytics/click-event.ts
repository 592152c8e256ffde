import { z } from "zod";

export const trafficClasses = ["human", "bot", "preview", "prefetch", "head"] as const;

/** human and the classes counted apart; `head` and `prefetch` are served but never stored. */
export type TrafficClass = (typeof trafficClasses)[number];

/**
 * One served redirect as it travels through the queue: classified and enriched, with a visitor
 * hash instead of the IP. `eventId` is minted when the redirect is served, so redelivery of the
 * same event is recognised by the consumer and never counted twice.
 */
export const clickEventSchema = z.object({
  eventId: z.uuid(),
  linkId: z.uuid(),
  workspaceId: z.uuid(),
  // Epoch milliseconds within what a Date (and Postgres' timestamptz) can hold.
  occurredAt: z.number().int().positive().max(8.64e15),
  traffic: z.enum(trafficClasses),
  reason: z.string().max(64),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .nullable(),
  device: z.string().max(16).nullable(),
  browser: z.string().max(64).nullable(),
  os: z.string().max(64).nullable(),
  referrerHost: z.string().max(253).nullable(),
  visitorHash: z.string().max(64).nullable(),
});

export type ClickEvent = z.infer<typeof clickEventSchema>;

/** Only human clicks count as clicks: the same rule `maxClicks` applies on the redirect path. */
export const countsAsClick = (event: Pick<ClickEvent, "traffic">) => event.traffic === "human";
