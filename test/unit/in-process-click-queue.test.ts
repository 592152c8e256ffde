import { afterEach, describe, expect, it, vi } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { createInProcessClickQueue } from "../../src/platform/queue/in-process-click-queue";
import { clickEvent } from "../support/click-events";

const event = (): ClickEvent => clickEvent();
const events = (n: number) => Array.from({ length: n }, event);

afterEach(() => {
  vi.useRealTimers();
});

describe("in-process click queue", () => {
  it("flushes a full batch at once, without waiting for the timer", async () => {
    const batches: ClickEvent[][] = [];
    const queue = createInProcessClickQueue({
      deliver: async (batch) => void batches.push(batch),
      maxBatch: 10,
      flushMs: 60_000,
    });
    await queue.send(events(25));
    await vi.waitFor(() => expect(batches.map((b) => b.length)).toEqual([10, 10]));
    // The remainder waits for the timer (or close).
    expect(queue.pending).toBe(5);
    await queue.close();
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it("flushes a partial batch once flushMs has passed since it started", async () => {
    vi.useFakeTimers();
    const batches: ClickEvent[][] = [];
    const queue = createInProcessClickQueue({
      deliver: async (batch) => void batches.push(batch),
      maxBatch: 100,
      flushMs: 1_000,
    });
    await queue.send(events(3));
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([]);
    await queue.send(events(2));
    await vi.advanceTimersByTimeAsync(1);
    expect(batches.map((b) => b.length)).toEqual([5]);
    await queue.close();
  });

  it("retries a failed batch with backoff and delivers every event exactly once in the end", async () => {
    const delivered: string[] = [];
    let failures = 2;
    const retries: number[] = [];
    const queue = createInProcessClickQueue({
      deliver: async (batch) => {
        if (failures-- > 0) throw new Error("database away");
        delivered.push(...batch.map((e) => e.eventId));
      },
      maxBatch: 4,
      backoffMs: () => 5,
      onRetry: (attempt) => retries.push(attempt),
    });
    const sent = events(8);
    await queue.send(sent);
    await queue.close();
    expect(retries).toEqual([1, 2]);
    expect(delivered).toEqual(sent.map((e) => e.eventId));
  });

  it("loses nothing on shutdown: close() drains everything buffered, then refuses new events", async () => {
    const delivered: ClickEvent[] = [];
    const queue = createInProcessClickQueue({
      deliver: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        delivered.push(...batch);
      },
      maxBatch: 50,
      flushMs: 60_000,
    });
    for (let i = 0; i < 20; i += 1) await queue.send(events(17));
    await queue.close();
    expect(delivered).toHaveLength(340);
    expect(new Set(delivered.map((e) => e.eventId)).size).toBe(340);
    expect(queue.pending).toBe(0);
    await expect(queue.send(events(1))).rejects.toThrow(/closed/);
  });

  it("is bounded: beyond maxBuffered new events are dropped and reported, never queued", async () => {
    const drops: [number, string][] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const queue = createInProcessClickQueue({
      deliver: () => gate,
      maxBatch: 10,
      maxBuffered: 30,
      onDrop: (count, reason) => drops.push([count, reason]),
    });
    await queue.send(events(25));
    await queue.send(events(10));
    expect(drops).toEqual([[5, "full"]]);
    expect(queue.pending).toBe(30);
    release();
    await queue.close();
  });

  it("drops a batch after maxAttempts, and what is left after the drain deadline", async () => {
    const drops: [number, string][] = [];
    const queue = createInProcessClickQueue({
      deliver: async () => {
        throw new Error("never works");
      },
      maxBatch: 5,
      maxAttempts: 3,
      backoffMs: () => 1,
      drainTimeoutMs: 200,
      onDrop: (count, reason) => drops.push([count, reason]),
    });
    await queue.send(events(5));
    await vi.waitFor(() => expect(drops).toEqual([[5, "failed"]]));
    const stuck = createInProcessClickQueue({
      deliver: () => new Promise(() => {}),
      maxBatch: 5,
      drainTimeoutMs: 100,
      onDrop: (count, reason) => drops.push([count, reason]),
    });
    await stuck.send(events(12));
    await stuck.close();
    expect(drops.at(-1)).toEqual([7, "closed"]);
  });
});
