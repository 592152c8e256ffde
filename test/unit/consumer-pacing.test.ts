import { describe, expect, it } from "vitest";
import {
  createContentionPacer,
  sampleUsage,
  type UsageSample,
} from "../../src/platform/node/consumer-pacing";

/** Usage readings a test moves by hand: each batch adds wall, busy and CPU time. */
function scripted() {
  let now: UsageSample = { cpuMicros: 0, activeMs: 0, at: 0 };
  return {
    sample: () => now,
    /** A batch of `wallMs`, `activeMs` of it running JS, given `cpuMs` of CPU. */
    batch(wallMs: number, activeMs: number, cpuMs: number) {
      now = {
        cpuMicros: now.cpuMicros + cpuMs * 1000,
        activeMs: now.activeMs + activeMs,
        at: now.at + wallMs,
      };
    },
  };
}

describe("contention pacer", () => {
  it("never waits while the consumer gets the CPU it asks for", () => {
    const usage = scripted();
    const pacer = createContentionPacer({ sample: usage.sample, backlog: () => 0, maxBacklog: 1000 });
    pacer.start();
    usage.batch(40, 10, 9.5); // 30 ms waiting on Postgres, the JS ran at 95% of its wall time
    expect(pacer.pauseAfterBatch()).toBe(0);
    expect(pacer.share()).toBeCloseTo(0.95);
  });

  it("waits the batch's waiting time scaled by how much CPU it was refused", () => {
    const usage = scripted();
    const pacer = createContentionPacer({ sample: usage.sample, backlog: () => 10, maxBacklog: 1000 });
    pacer.start();
    usage.batch(100, 50, 10); // given a fifth of the CPU while busy; 50 ms waiting
    expect(pacer.share()).toBe(1);
    expect(pacer.pauseAfterBatch()).toBe(200); // 50 × (1/0.2 − 1): Postgres gets the consumer's share
    expect(pacer.share()).toBeCloseTo(0.2);
  });

  it("never waits at the backlog bound, so the stream's cap never trims an unstored click", () => {
    const usage = scripted();
    let backlog = 999;
    const pacer = createContentionPacer({ sample: usage.sample, backlog: () => backlog, maxBacklog: 1000 });
    pacer.start();
    usage.batch(100, 50, 10);
    expect(pacer.pauseAfterBatch()).toBeGreaterThan(0);
    backlog = 1000;
    pacer.start();
    usage.batch(100, 50, 10);
    expect(pacer.pauseAfterBatch()).toBe(0);
  });

  it("bounds a pause, and a batch with too little JS to judge keeps the last estimate", () => {
    const usage = scripted();
    const pacer = createContentionPacer({
      sample: usage.sample,
      backlog: () => undefined,
      maxBacklog: 1000,
      maxPauseMs: 500,
    });
    pacer.start();
    usage.batch(1_000, 20, 1); // 5% of the CPU: 980 × 19 ms, capped
    expect(pacer.pauseAfterBatch()).toBe(500);
    pacer.start();
    usage.batch(30, 1, 1); // 1 ms of JS: no verdict, still contended
    expect(pacer.share()).toBeCloseTo(0.05);
    expect(pacer.pauseAfterBatch()).toBe(500);
  });

  it("answers 0 without a start, and reads this process's usage by default", () => {
    const pacer = createContentionPacer({ backlog: () => 0, maxBacklog: 1 });
    expect(pacer.pauseAfterBatch()).toBe(0);
    const first = sampleUsage();
    let spin = 0;
    for (let i = 0; i < 2_000_000; i++) spin += i % 7;
    const second = sampleUsage();
    expect(spin).toBeGreaterThan(0);
    expect(second.cpuMicros).toBeGreaterThan(first.cpuMicros);
    expect(second.activeMs).toBeGreaterThanOrEqual(first.activeMs);
    expect(second.at).toBeGreaterThan(first.at);
  });
});
