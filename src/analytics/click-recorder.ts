import type { Cache } from "../platform/cache/cache";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import { createAgentFacts } from "./agent-facts";
import type { ClickEvent } from "./click-event";
import type { ClickQueue } from "./click-queue";
import { type Classification, classifyVisit } from "./visit-classifier";
import { createVisitorHasher, referrerHostOf } from "./visit-enricher";

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
  /**
   * Present when no visit is recorded (CLICK_RECORDING=off): counts a served redirect, as `record`
   * does, for a caller that then need not capture the visit at all.
   */
  countServed?(): void;
  /** Settles once every `record` begun so far has handed its event over (or failed): for shutdown. */
  drain?(): Promise<void>;
}

/** A timer, never a microtask: work that must not run before the response is written. */
const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const bounded = (value: string | null, max: number) => (value && value.length <= max ? value : null);

/** Visits recorded within one window, handed to the queue together after it. */
interface Batch {
  visits: ServedVisit[];
  done: Promise<void>;
}

/**
 * Classifies (the same classifier `maxClicks` uses), enriches, hashes the visitor and sends the
 * event. HEAD and prefetches are counted in metrics only:
 * they are served, never stored.
 *
 * Visits recorded within `windowMs` of a batch's first one are handled together after it and
 * handed to the queue in one `send` (one round trip to Redis for all of them): a timer and a round
 * trip per batch instead of per redirect, and the socket writes they cost are most of recording a
 * click. A batch holds at most `maxBatch` visits; every `record` of a batch settles when the batch
 * has been handed over, and rejects when the queue did not take it.
 *
 * @example
 * const recorder = createClickRecorder({ queue, cache, metrics });
 * afterResponse(c, recorder.record(visit), onError);
 */
export function createClickRecorder(deps: {
  queue: ClickQueue;
  cache: Cache;
  metrics: MetricsRegistry;
  /** Visits per batch at most (default 256); 1 records each visit on its own. */
  maxBatch?: number;
  /** How long a batch collects visits (default 0: until the end of the current turn). */
  windowMs?: number;
  /** SHA-256 as hex for the visitor hash; defaults to Web Crypto's (see createVisitorHasher). */
  sha256Hex?: (text: string) => string | Promise<string>;
}): ClickRecorder {
  const { queue, metrics } = deps;
  const maxBatch = deps.maxBatch ?? 256;
  const windowMs = deps.windowMs ?? 0;
  const hashVisitor = createVisitorHasher(deps.cache, Date.now, deps.sha256Hex);
  const factsOf = createAgentFacts();
  const inFlight = new Set<Promise<void>>();
  let open: Batch | undefined;
  const servedCounters = new Map<string, () => void>();
  const countServed = (traffic: string) => {
    let count = servedCounters.get(traffic);
    if (!count) {
      count = metrics.boundCounter("clicks_served_total", "Redirects served, by traffic class", { traffic });
      servedCounters.set(traffic, count);
    }
    count();
  };

  /** The click event of a visit, or undefined (not stored, or invalid); a promise only while the hash is. */
  function toEvent(visit: ServedVisit): ClickEvent | undefined | Promise<ClickEvent | undefined> {
    const agent = factsOf(visit.userAgent);
    // HEAD and prefetch announcements are decided by the request, not by its user agent.
    const { traffic, reason } =
      visit.classification ??
      (visit.method === "HEAD" || visit.purpose !== null
        ? classifyVisit(visit.method, visit)
        : agent.classification);
    countServed(traffic);
    if (traffic === "head" || traffic === "prefetch") return undefined;
    // Valid by construction: every value is typed, bounded or normalised, and a randomised test
    // holds the result to clickEventSchema. zod's check here cost about a third of recording a
    // click on Node; the Redis Streams and Cloudflare Queues consumers still check what they take
    // off their queue, and the in-process queue's events never leave this process.
    const event = (visitorHash: string | null): ClickEvent => ({
      eventId: visit.eventId,
      linkId: visit.linkId,
      workspaceId: visit.workspaceId,
      occurredAt: visit.occurredAt,
      traffic,
      reason: reason.slice(0, 64),
      country: visit.country,
      device: agent.device,
      browser: bounded(agent.browser, 64),
      os: bounded(agent.os, 64),
      referrerHost: bounded(referrerHostOf(visit.referrer), 253),
      visitorHash,
    });
    // A string once the day's salt is known (Node): then no turn of the microtask queue per click.
    const hashed = hashVisitor(visit.ip, visit.userAgent);
    return typeof hashed === "string" || hashed === null ? event(hashed) : hashed.then(event);
  }

  async function flush(visits: ServedVisit[]): Promise<void> {
    const events: ClickEvent[] = [];
    for (const visit of visits) {
      const made = toEvent(visit);
      const event = made instanceof Promise ? await made : made;
      if (event) events.push(event);
    }
    if (events.length === 0) return;
    try {
      await queue.send(events);
    } catch (error) {
      metrics.counter(
        "clicks_dropped_total",
        "Click events the queue did not take",
        { reason: "send" },
        events.length,
      );
      throw error;
    }
  }

  function openBatch(): Batch {
    const batch: Batch = { visits: [], done: Promise.resolve() };
    batch.done = after(windowMs).then(() => {
      // Visits arriving from now on start the next batch.
      if (open === batch) open = undefined;
      return flush(batch.visits);
    });
    const settled = batch.done.then(
      () => {},
      () => {},
    );
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
    return batch;
  }

  return {
    record(visit) {
      if (!open || open.visits.length >= maxBatch) open = openBatch();
      open.visits.push(visit);
      return open.done;
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
    countServed: served,
  };
}
