import { Redis as IORedis } from "ioredis";

/** One raw Redis command and its raw RESP2 reply (arrays, strings, integers, null). */
export type RedisCall = (command: (string | number)[]) => Promise<unknown>;

/** A stream entry with its fields as a flat record. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** Commands for the stream consumer and whether it may BLOCK on them. */
export interface StreamConnection {
  call: RedisCall;
  /** True on a dedicated TCP connection; over REST the consumer polls instead. */
  canBlock: boolean;
  close(): Promise<void>;
  /** Drops the connection at once, failing the command in flight (a blocked read); no reconnect. */
  abort(): void;
}

/**
 * A dedicated ioredis connection for the consumer: a blocking XREADGROUP holds its connection for up
 * to its BLOCK time, so it must never share the requester's connection that serves redirects.
 * RESP2, so stream replies come back as arrays (RESP3 would turn XREADGROUP into a map).
 */
export function tcpStreamConnection(redisUrl: string): StreamConnection {
  const client = new IORedis(redisUrl, {
    protocol: 2,
    // Commands issued while (re)connecting wait for the connection; one failed attempt rejects them.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  // The consumer loop sees the failures on its commands; without a listener ioredis logs each one.
  client.on("error", () => {});
  return {
    canBlock: true,
    call: ([name, ...args]) => client.call(String(name), ...args.map(String)),
    async close() {
      if (client.status === "ready") await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
    abort: () => client.disconnect(),
  };
}

/**
 * Upstash's REST API without the client library's reply reshaping: POST the command as a JSON array,
 * read `{ result }` or `{ error }`. No BLOCK over HTTP; the consumer polls.
 */
export function restStreamConnection(url: string, token: string): StreamConnection {
  return {
    canBlock: false,
    async call(command) {
      const response = await fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(command),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await response.json()) as { result?: unknown; error?: string };
      if (body.error !== undefined) throw new Error(body.error);
      return body.result ?? null;
    },
    async close() {},
    abort() {},
  };
}

/** `[[id, [field, value, …]], …]` as entries; null items (entries deleted meanwhile) are skipped. */
export function parseEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const entries: StreamEntry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || !Array.isArray(item[1])) continue;
    const flat = item[1] as unknown[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
    entries.push({ id: item[0], fields });
  }
  return entries;
}

/** XREADGROUP's `[[stream, entries]]` (or null on timeout) as the entries of the one stream read. */
export const parseReadGroup = (reply: unknown): StreamEntry[] =>
  Array.isArray(reply) && Array.isArray(reply[0]) ? parseEntries(reply[0][1]) : [];

/** A flat `[name, value, name, value…]` reply (XINFO GROUPS items) as a record. */
export function flatRecord(reply: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
  return record;
}
