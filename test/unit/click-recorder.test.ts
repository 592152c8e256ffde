import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ClickEvent, clickEventSchema } from "../../src/analytics/click-event";
import type { ClickQueue } from "../../src/analytics/click-queue";
import { createClickRecorder, type ServedVisit } from "../../src/analytics/click-recorder";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";

const chrome =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

function setup(send?: ClickQueue["send"], options: { maxBatch?: number; windowMs?: number } = {}) {
  const sent: ClickEvent[] = [];
  const sends: ClickEvent[][] = [];
  const queue: ClickQueue = {
    kind: "in-process",
    send: async (events) => {
      sends.push(events);
      if (send) return send(events);
      sent.push(...events);
    },
    close: async () => {},
  };
  const metrics = new MetricsRegistry();
  const recorder = createClickRecorder({ queue, cache: new MemoryCache(), metrics, ...options });
  return { recorder, sent, sends, metrics };
}

const visit = (over: Partial<ServedVisit> = {}): ServedVisit => ({
  eventId: randomUUID(),
  linkId: randomUUID(),
  workspaceId: randomUUID(),
  occurredAt: Date.UTC(2026, 10, 27, 12),
  method: "GET",
  userAgent: chrome,
  purpose: null,
  referrer: "https://news.example.com/item?id=1",
  country: "DE",
  ip: "203.0.113.7",
  ...over,
});

describe("click recorder", () => {
  it("classifies, enriches and hashes the visitor: the event carries no IP and no user agent", async () => {
    const { recorder, sent } = setup();
    const served = visit();
    await recorder.record(served);

    expect(sent).toEqual([
      {
        eventId: served.eventId,
        linkId: served.linkId,
        workspaceId: served.workspaceId,
        occurredAt: served.occurredAt,
        traffic: "human",
        reason: "browser",
        country: "DE",
        device: "desktop",
        browser: "Chrome",
        os: "Windows",
        referrerHost: "news.example.com",
        visitorHash: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
    ]);
    expect(JSON.stringify(sent)).not.toContain("203.0.113.7");
    expect(JSON.stringify(sent)).not.toContain("Mozilla");
  });

  it("gives one visitor the same hash on the same day, and another visitor another", async () => {
    const { recorder, sent } = setup();
    await recorder.record(visit());
    await recorder.record(visit());
    await recorder.record(visit({ ip: "198.51.100.1" }));
    await recorder.record(visit({ ip: null }));
    const [a, b, c, unknown] = sent.map((e) => e.visitorHash);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(unknown).toBeNull();
  });

  it("keeps bots and previews with their reason; HEAD and prefetches are counted, never queued", async () => {
    const { recorder, sent, metrics } = setup();
    await recorder.record(visit({ userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1)" }));
    await recorder.record(visit({ userAgent: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)" }));
    await recorder.record(visit({ method: "HEAD" }));
    await recorder.record(visit({ purpose: "prefetch" }));

    expect(sent.map((e) => [e.traffic, e.reason])).toEqual([
      ["bot", expect.stringMatching(/googlebot/)],
      ["preview", "slack"],
    ]);
    const text = metrics.render();
    for (const traffic of ["bot", "preview", "head", "prefetch"]) {
      expect(text).toMatch(new RegExp(`^clicks_served_total\\{traffic="${traffic}"\\} 1$`, "m"));
    }
  });

  it("uses the redirect path's classification when it has one (maxClicks links)", async () => {
    const { recorder, sent } = setup();
    await recorder.record(visit({ classification: { traffic: "bot", reason: "decided-upstream" } }));
    expect(sent[0]).toMatchObject({ traffic: "bot", reason: "decided-upstream" });
  });

  it("never queues an event the consumer would refuse: over-long values are left out, not sent", async () => {
    const { recorder, sent } = setup();
    await recorder.record(visit({ purpose: `prefetch;${"x".repeat(500)}` }));
    await recorder.record(
      visit({
        referrer: `https://${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.example/`,
      }),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]!.referrerHost).toBeNull();
  });

  it("makes only events the consumers accept, whatever the request carried (randomised)", async () => {
    // A small seeded generator, so a failure replays exactly.
    let seed = 0x2f6e2b1;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const specials = [0, 9, 10, 13, 32, 47, 59, 0x7f, 0xe9, 0x4e2d, 0x1f600, 0xfffd];
    const junk = (max: number) =>
      Array.from({ length: Math.floor(next() * max) }, () =>
        String.fromCodePoint(next() < 0.3 ? pick(specials) : 33 + Math.floor(next() * 94)),
      ).join("");
    const agents = [
      null,
      "",
      chrome,
      "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
      "Mozilla/5.0 (compatible; Googlebot/2.1)",
      `Mozilla/5.0 (${"X".repeat(5_000)}) Chrome/1.0`,
      `${"Browser/".repeat(40)}9 (${"OS ".repeat(40)})`,
    ];
    const referrers = [
      null,
      "",
      "not a url",
      "https://news.example.com/item?id=1",
      "http://[2001:db8::1]:8080/x",
      "https://bücher.example/",
      `https://${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}/`,
      `https://${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.example/`,
      "javascript:alert(1)",
    ];
    const { recorder, sent } = setup(undefined, { maxBatch: 50 });
    const served = Array.from({ length: 2_000 }, () =>
      visit({
        userAgent: next() < 0.4 ? junk(300) : pick(agents),
        referrer: next() < 0.3 ? `https://${junk(40)}/` : pick(referrers),
        purpose: pick([null, null, null, "prefetch", junk(80)]),
        method: pick(["GET", "GET", "HEAD", "POST"]),
        country: pick([null, "DE", "US"]),
        ip: pick([null, "203.0.113.7", "2001:db8::/64"]),
        ...(next() < 0.1 ? { classification: { traffic: "bot" as const, reason: junk(200) } } : {}),
      }),
    );
    await Promise.all(served.map((v) => recorder.record(v)));

    expect(sent.length).toBeGreaterThan(1_000);
    const refused = sent.filter((event) => !clickEventSchema.safeParse(event).success);
    expect(refused).toEqual([]);
  });

  it("rejects when the queue refuses the event, and counts the drop", async () => {
    const { recorder, metrics } = setup(async () => {
      throw new Error("redis away");
    });
    await expect(recorder.record(visit())).rejects.toThrow("redis away");
    expect(metrics.render()).toMatch(/^clicks_dropped_total\{reason="send"\} 1$/m);
  });

  it("hands the visits of one turn to the queue together, in one send", async () => {
    const { recorder, sent, sends } = setup();
    const visits = Array.from({ length: 5 }, () => visit());
    await Promise.all([...visits.map((v) => recorder.record(v)), recorder.record(visit({ method: "HEAD" }))]);
    expect(sends).toHaveLength(1);
    expect(sent.map((e) => e.eventId)).toEqual(visits.map((v) => v.eventId));
    // A visit recorded after that batch went out starts the next one.
    await recorder.record(visit());
    expect(sends.map((batch) => batch.length)).toEqual([5, 1]);
  });

  it("never holds more than maxBatch visits in one send", async () => {
    const { recorder, sends } = setup(undefined, { maxBatch: 4 });
    const visits = Array.from({ length: 10 }, () => visit());
    await Promise.all(visits.map((v) => recorder.record(v)));
    // Batches go out independently: their order is not promised, their contents are.
    expect(sends.map((batch) => batch.length).sort()).toEqual([2, 4, 4]);
    expect(new Set(sends.flat().map((e) => e.eventId))).toEqual(new Set(visits.map((v) => v.eventId)));
  });

  it("rejects every record of a batch the queue refused, and counts each of its events as dropped", async () => {
    const { recorder, metrics } = setup(async () => {
      throw new Error("redis away");
    });
    const outcomes = await Promise.allSettled([
      recorder.record(visit()),
      recorder.record(visit()),
      recorder.record(visit({ method: "HEAD" })),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(metrics.render()).toMatch(/^clicks_dropped_total\{reason="send"\} 2$/m);
  });

  it("drain waits for the batch in flight", async () => {
    let release = () => {};
    const { recorder, sent } = setup(
      (events) =>
        new Promise<void>((resolve) => {
          release = () => {
            sent.push(...events);
            resolve();
          };
        }),
    );
    void recorder.record(visit());
    let drained = false;
    const draining = recorder.drain!().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(drained).toBe(false);
    release();
    await draining;
    expect(sent).toHaveLength(1);
  });

  it("classifies a prefetch and a HEAD by the request, whatever the user agent said before", async () => {
    const { recorder, sent, metrics } = setup();
    // The same user agent first as a plain GET (its facts are remembered), then announced otherwise.
    await recorder.record(visit());
    await recorder.record(visit({ purpose: "prefetch" }));
    await recorder.record(visit({ method: "HEAD" }));
    await recorder.record(visit({ purpose: "something-else" }));
    expect(sent.map((e) => e.traffic)).toEqual(["human", "human"]);
    const text = metrics.render();
    expect(text).toMatch(/^clicks_served_total\{traffic="prefetch"\} 1$/m);
    expect(text).toMatch(/^clicks_served_total\{traffic="head"\} 1$/m);
  });

  it("collects the visits of a window into one send, across turns of the event loop", async () => {
    const { recorder, sends } = setup(undefined, { windowMs: 200 });
    const first = recorder.record(visit());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = recorder.record(visit());
    await Promise.all([first, second]);
    expect(sends.map((batch) => batch.length)).toEqual([2]);
  });

  it("with maxBatch 1 records every visit on its own (the edge: no batch spans two requests)", async () => {
    const { recorder, sends } = setup(undefined, { maxBatch: 1 });
    await Promise.all([recorder.record(visit()), recorder.record(visit()), recorder.record(visit())]);
    expect(sends.map((batch) => batch.length)).toEqual([1, 1, 1]);
  });
});
