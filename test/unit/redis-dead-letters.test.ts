import { describe, expect, it } from "vitest";
import { decodeDeadLetter, scanDeadLetters } from "../../src/platform/node/redis-dead-letters";
import type { RedisCall } from "../../src/platform/node/redis-stream-commands";
import { clickEvent } from "../support/click-events";

describe("dead-letter entries", () => {
  it("decodes the consumer's fields, and when it was parked from the entry id", () => {
    const event = clickEvent();
    const letter = decodeDeadLetter({
      id: "1764288000123-4",
      fields: {
        id: "1764287999000-0",
        reason: "too-many-deliveries",
        deliveries: "6",
        consumer: "host-1-abc",
        payload: JSON.stringify(event),
      },
    });
    expect(letter).toMatchObject({
      originalId: "1764287999000-0",
      reason: "too-many-deliveries",
      deliveries: 6,
      consumer: "host-1-abc",
      event,
    });
    expect(letter.parkedAt.toISOString()).toBe("2025-11-28T00:00:00.123Z");
  });

  it("says why a payload cannot be replayed, and survives missing fields", () => {
    const notJson = decodeDeadLetter({ id: "1-0", fields: { payload: "{oops" } });
    expect(notJson).toMatchObject({ event: "invalid-json", reason: "", deliveries: 0, originalId: "" });
    expect(decodeDeadLetter({ id: "1-1", fields: {} }).event).toBe("invalid-json");
    const notEvent = decodeDeadLetter({ id: "1-2", fields: { payload: JSON.stringify({ eventId: "x" }) } });
    expect(notEvent.event).toBe("invalid-event");
  });

  it("pages through the stream after the last id of each page, never repeating one", async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `${i + 1}-0`);
    const commands: (string | number)[][] = [];
    const call: RedisCall = async (command) => {
      commands.push(command);
      const [, , start, , , count] = command;
      const from = start === "-" ? 0 : ids.indexOf(String(start).slice(1)) + 1;
      return ids.slice(from, from + Number(count)).map((id) => [id, ["reason", "r", "payload", "{}"]]);
    };
    const seen: string[] = [];
    for await (const page of scanDeadLetters(call, "el:dead", { pageSize: 3 }))
      seen.push(...page.map((l) => l.id));
    expect(seen).toEqual(ids);
    expect(commands.map((command) => command[2])).toEqual(["-", "(3-0", "(6-0"]);
  });
});
