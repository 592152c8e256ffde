import { type ClickEvent, clickEventSchema } from "../../analytics/click-event";
import type { ClickStreamNames } from "./redis-stream-click-queue";
import { parseEntries, type RedisCall, type StreamEntry } from "./redis-stream-commands";

/** Why a parked payload cannot go back on the stream: the consumer would only park it again. */
export type UnreplayableReason = "invalid-json" | "invalid-event";

/** One entry of the dead-letter stream, as the consumer parks it (see redis-stream-batch.ts). */
export interface DeadLetter {
  /** The dead-letter entry's own id: what XDEL (and `--ids`) take. */
  id: string;
  /** The id the event had on the click stream. */
  originalId: string;
  reason: string;
  deliveries: number;
  consumer: string;
  /** When it was parked: the milliseconds of `id`. */
  parkedAt: Date;
  /** The event's JSON as it came in its click stream entry (or that entry's raw field when unreadable). */
  payload: string;
  /** The click event the payload holds, or why it holds none. */
  event: ClickEvent | UnreplayableReason;
}

/** The JSON of a payload, or undefined when it is none. */
export function parsePayload(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return undefined;
  }
}

/** Reads one raw dead-letter entry; missing fields become empty values, never an exception. */
export function decodeDeadLetter(entry: StreamEntry): DeadLetter {
  const { fields } = entry;
  const payload = fields.payload ?? "";
  const json = parsePayload(payload);
  const parsed = json === undefined ? undefined : clickEventSchema.safeParse(json);
  return {
    id: entry.id,
    originalId: fields.id ?? "",
    reason: fields.reason ?? "",
    deliveries: Number(fields.deliveries ?? 0) || 0,
    consumer: fields.consumer ?? "",
    parkedAt: new Date(Number(entry.id.split("-")[0])),
    payload,
    event: !parsed ? "invalid-json" : parsed.success ? parsed.data : "invalid-event",
  };
}

/**
 * The entries of the dead-letter stream up to `end` (default: all), oldest first, a page (XRANGE …
 * COUNT) at a time. Each page starts after the last id of the one before, so entries deleted between
 * pages (replayed) never make it skip or repeat one.
 *
 * @example
 * for await (const page of scanDeadLetters(call, names.deadLetter)) for (const letter of page) …
 */
export async function* scanDeadLetters(
  call: RedisCall,
  deadLetter: string,
  options: { pageSize?: number; end?: string } = {},
): AsyncGenerator<DeadLetter[]> {
  const { pageSize = 100, end = "+" } = options;
  let start = "-";
  for (;;) {
    const page = parseEntries(await call(["XRANGE", deadLetter, start, end, "COUNT", pageSize]));
    if (page.length > 0) yield page.map(decodeDeadLetter);
    if (page.length < pageSize) return;
    start = `(${page.at(-1)!.id}`;
  }
}

/** The id of the newest dead-letter entry, or undefined when there is none. */
export async function lastDeadLetterId(call: RedisCall, deadLetter: string): Promise<string | undefined> {
  const [newest] = parseEntries(await call(["XREVRANGE", deadLetter, "+", "-", "COUNT", 1]));
  return newest?.id;
}

/** The dead-letter entries with these ids, in the order given; ids not in the stream are left out. */
export async function fetchDeadLetters(call: RedisCall, deadLetter: string, ids: string[]) {
  const replies = await Promise.all(ids.map((id) => call(["XRANGE", deadLetter, id, id])));
  return replies.flatMap((reply) => parseEntries(reply).map(decodeDeadLetter));
}

/**
 * Puts parked events back on the click stream — XADD, an entry per event in an `event` field (the
 * consumer reads it beside the producer's `events` batches), under the producer's MAXLEN ~ cap —
 * and only then XDELs the entries whose XADD succeeded. A crash (or a failed XDEL)
 * between the two leaves an event both on the stream and parked, so a later replay adds it twice:
 * harmless, because the consumer's ingest is idempotent on the event id.
 *
 * @returns the ids moved, and the first XADD error when some were not (those stay parked).
 */
export async function requeueDeadLetters(
  call: RedisCall,
  names: ClickStreamNames,
  maxLen: number,
  letters: DeadLetter[],
): Promise<{ moved: string[]; error?: unknown }> {
  const added = await Promise.allSettled(
    letters.map((letter) =>
      call(["XADD", names.stream, "MAXLEN", "~", maxLen, "*", "event", letter.payload]),
    ),
  );
  const moved = letters.filter((_, i) => added[i]?.status === "fulfilled").map((letter) => letter.id);
  if (moved.length > 0) await call(["XDEL", names.deadLetter, ...moved]);
  const failure = added.find((result) => result.status === "rejected");
  return failure ? { moved, error: failure.reason } : { moved };
}
