import { describe, expect, it } from "vitest";
import { coveringRanges, type StatsRange } from "../../src/analytics/stats-repository";

const range = (granularity: "hour" | "day", from: string, to: string): StatsRange => ({
  linkId: "l",
  granularity,
  from: new Date(from),
  to: new Date(to),
});
const shown = (ranges: StatsRange[]) =>
  ranges.map((r) => `${r.granularity} ${r.from.toISOString()} ${r.to.toISOString()}`);

describe("coveringRanges: the rollup buckets a breakdown reads", () => {
  it("reads whole UTC days of an hourly range from the day rollups, the hours around them from the hour ones", () => {
    expect(shown(coveringRanges(range("hour", "2026-11-20T10:00Z", "2026-11-23T05:00Z")))).toEqual([
      "hour 2026-11-20T10:00:00.000Z 2026-11-21T00:00:00.000Z",
      "day 2026-11-21T00:00:00.000Z 2026-11-23T00:00:00.000Z",
      "hour 2026-11-23T00:00:00.000Z 2026-11-23T05:00:00.000Z",
    ]);
  });

  it("leaves out empty edges when the range starts or ends at midnight", () => {
    expect(shown(coveringRanges(range("hour", "2026-11-20T00:00Z", "2026-11-22T00:00Z")))).toEqual([
      "day 2026-11-20T00:00:00.000Z 2026-11-22T00:00:00.000Z",
    ]);
  });

  it("keeps hours when no whole day fits, and day ranges as they are", () => {
    const short = range("hour", "2026-11-20T10:00Z", "2026-11-21T09:00Z");
    expect(coveringRanges(short)).toEqual([short]);
    const days = range("day", "2026-11-01T00:00Z", "2026-11-30T00:00Z");
    expect(coveringRanges(days)).toEqual([days]);
  });
});
