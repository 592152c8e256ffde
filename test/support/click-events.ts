import { randomUUID } from "node:crypto";
import type { ClickEvent } from "../../src/analytics/click-event";

/** A valid human click event with fresh ids; override what the test is about. */
export function clickEvent(over: Partial<ClickEvent> = {}): ClickEvent {
  return {
    eventId: randomUUID(),
    linkId: randomUUID(),
    workspaceId: randomUUID(),
    occurredAt: Date.now(),
    traffic: "human",
    reason: "browser",
    country: null,
    device: "desktop",
    browser: null,
    os: null,
    referrerHost: null,
    visitorHash: null,
    ...over,
  };
}
