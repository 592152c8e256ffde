import type { Cache } from "../platform/cache/cache";
import type { Logger } from "../platform/log/logger";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import { type ClickEvent, clickEventSchema } from "./click-event";
import type { ClickQueue } from "./click-queue";
import { type Classification, classifyVisit } from "./visit-classifier";
import { createVisitorHasher, describeVisit } from "./visit-enricher";

/**
 * One redirect as served, raw: what the redirect path can say about it without spending time.
 * The recorder turns it into a {@link ClickEvent}; the IP goes no further than the visitor hash.
 */
export interface ServedVisit {
  /** Minted when the redirect is served, so a redelivered event is recognised downstream. */
  eventId: string;
  linkId: string;
  workspaceId: string;
  occurredAt: number;
  method: string;
  userAgent: string | null;
  /** `Sec-Purpose`, else `Purpose`: how browsers announce prefetches. */
  purpose: string | null;
  referrer: string | null;
  /** ISO 3166-1 alpha-2, upper case, or null when unknown. */
  country: string | null;
  /** The client identifier of `clientIp` (an IPv6 client as its /64), null when unknown. */
  ip: string | null;
  /** Set when the redirect path already classified the visit (links with `maxClicks`). */
  classification?: Classification;
}

/**
 * The click-recording port: called after the response, never delaying it. `record` rejects only
 * when the event could not be handed to the queue; the caller logs that.
 */
export interface ClickRecorder {
  record(visit: ServedVisit): Promise<void>;
  /** Settles once every `record` begun so far has handed its event over (or failed): for shutdown. */
  drain?(): Promise<void>;
}

/** Work that must not run before the response is written: on Node, promise callbacks would. */
const afterCurrentTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

const bounded = (value: string | null, max: number) => (value && value.length <= max ? value : null);

/**
 * Classifies (the same classifier `maxClicks` uses), enriches, hashes the visitor, validates the
 * event against the queue's schema and sends it. HEAD and prefetches are counted in metrics only:
 * they are served, never stored.
 *
 * @example
 * const recorder = createClickRecorder({ queue, cache, metrics, logger });
 * afterResponse(c, recorder.record(visit), onError);
 */
export function createClickRecorder(deps: {
  queue: ClickQueue;
  cache: Cache;
  metrics: MetricsRegistry;
  logger: Logger;
}): ClickRecorder {
  const { queue, metrics, logger } = deps;
  const hashVisitor = createVisitorHasher(deps.cache);
  const inFlight = new Set<Promise<void>>();
  async function record(visit: ServedVisit): Promise<void> {
    await afterCurrentTurn();
    const { traffic, reason } = visit.classification ?? classifyVisit(visit.method, visit);
    metrics.counter("clicks_served_total", "Redirects served, by traffic class", { traffic });
    if (traffic === "head" || traffic === "prefetch") return;
    const details = describeVisit(visit.userAgent, visit.referrer);
    const candidate: ClickEvent = {
      eventId: visit.eventId,
      linkId: visit.linkId,
      workspaceId: visit.workspaceId,
      occurredAt: visit.occurredAt,
      traffic,
      reason: reason.slice(0, 64),
      country: visit.country,
      device: details.device,
      browser: bounded(details.browser, 64),
      os: bounded(details.os, 64),
      referrerHost: bounded(details.referrerHost, 253),
      visitorHash: await hashVisitor(visit.ip, visit.userAgent),
    };
    const parsed = clickEventSchema.safeParse(candidate);
    if (!parsed.success) {
      metrics.counter("click_events_invalid_total", "Served visits that made no valid click event");
      logger.warn("click event invalid; not queued", { linkId: visit.linkId, issues: parsed.error.issues });
      return;
    }
    try {
      await queue.send([parsed.data]);
    } catch (error) {
      metrics.counter("clicks_dropped_total", "Click events the queue did not take", { reason: "send" });
      throw error;
    }
  }
  return {
    record(visit) {
      const recording = record(visit);
      const settled = recording.then(
        () => {},
        () => {},
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
      return recording;
    },
    async drain() {
      await Promise.all(inFlight);
    },
  };
}

/**
 * CLICK_RECORDING=off: nothing is classified, queued or stored; served redirects are still counted.
 */
export function createDisabledClickRecorder(metrics: MetricsRegistry): ClickRecorder {
  const served = metrics.boundCounter("clicks_served_total", "Redirects served, by traffic class", {
    traffic: "unrecorded",
  });
  return {
    async record() {
      served();
    },
  };
}
