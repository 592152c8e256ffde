import type { MetricsRegistry } from "../platform/metrics/metrics-registry";

/** human and the classes counted apart; `head` and `prefetch` never count as clicks. */
export type TrafficClass = "human" | "bot" | "preview" | "prefetch" | "head";

/** One redirect served, as handed to analytics after the response. The client IP is not in it. */
export interface ClickEvent {
  /** Minted when the redirect is served, so a redelivered event is recognised downstream. */
  eventId: string;
  linkId: string;
  workspaceId: string;
  occurredAt: number;
  traffic: TrafficClass;
  reason: string;
  userAgent: string | null;
  referrer: string | null;
  country: string | null;
}

/**
 * The click-recording port. `record` must return at once and never throw: it runs after the
 * response has been produced and a failure there must not reach the visitor.
 */
export interface ClickRecorder {
  record(event: ClickEvent): void;
}

/** Counts recorded clicks by class in metrics; the queue-backed recorders replace it. */
export function createMetricsClickRecorder(metrics: MetricsRegistry): ClickRecorder {
  return {
    record(event) {
      metrics.counter("clicks_recorded_total", "Redirects handed to analytics, by traffic class", {
        traffic: event.traffic,
      });
    },
  };
}
