import { describe, expect, it } from "vitest";
import { bucketStarts } from "../../src/analytics/stats-service";

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const formatted = (from: number, to: number, step: number) => {
  const starts: string[] = [];
  for (let at = from; at < to; at += step) starts.push(new Date(at).toISOString());
  return starts;
};

describe("bucketStarts: the series' bucket starts", () => {
  it("formats a month of hours across a month and a year boundary as toISOString does", () => {
    const from = Date.parse("2026-12-15T13:00:00Z");
    const to = from + 31 * dayMs;
    expect(bucketStarts(from, to, hourMs)).toEqual(formatted(from, to, hourMs));
  });

  it("formats days, a leap day included", () => {
    const from = Date.parse("2028-01-01T00:00:00Z");
    const to = from + 731 * dayMs;
    expect(bucketStarts(from, to, dayMs)).toEqual(formatted(from, to, dayMs));
  });

  it("formats an instant that is not a whole hour in full", () => {
    const from = Date.parse("2026-11-20T10:30:15.250Z");
    expect(bucketStarts(from, from + 2 * hourMs, hourMs)).toEqual([
      "2026-11-20T10:30:15.250Z",
      "2026-11-20T11:30:15.250Z",
    ]);
  });
});
