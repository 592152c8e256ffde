import type { Requester, UpstashRequest, UpstashResponse } from "@upstash/redis";
import { Redis } from "ioredis";
import type { CommandResponse, ReplyEncoding, UpstashCommand } from "./redis-command-runner";
import { createRedisCommandRunner } from "./redis-command-runner";

/** Options for {@link createTcpRequester}. */
export interface TcpRequesterOptions {
  /** Upper bound for one command, and for waiting on a connection that is being established. Default 2000. */
  commandTimeoutMs?: number;
}

/** An `@upstash/redis` requester over a plain Redis TCP connection. */
export interface TcpRequester extends Requester {
  /** The underlying ioredis connection (RESP2, no offline queue). */
  readonly client: Redis;
  /**
   * Like `request`, but renders bulk strings in `encoding`; the REST stand-in uses this to answer
   * `Upstash-Encoding: base64` requests from the raw bytes.
   */
  send(req: UpstashRequest, encoding: ReplyEncoding): Promise<CommandResponse | CommandResponse[]>;
  /** Closes the connection and stops reconnecting. */
  close(): Promise<void>;
}

const isCommand = (value: unknown): value is UpstashCommand => Array.isArray(value) && value.length > 0;

function commandsOf(body: unknown): UpstashCommand[] {
  if (!Array.isArray(body) || !body.every(isCommand)) {
    throw new TypeError("A pipeline or transaction body must be an array of command arrays");
  }
  return body;
}

/**
 * Resolves once `client` is ready. A connection that is being established gets up to `timeoutMs`; one that
 * has already failed (waiting to reconnect, or closed) rejects at once, so callers fail fast while Redis is down.
 */
function whenReady(client: Redis, timeoutMs: number, lastError: () => Error | undefined): Promise<void> {
  const unavailable = () =>
    new Error(`Redis is unavailable (${client.status}): ${lastError()?.message ?? "not connected"}`);
  if (client.status === "ready") return Promise.resolve();
  if (client.status !== "connecting" && client.status !== "connect") return Promise.reject(unavailable());
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("close", onClose);
      client.off("end", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => finish();
    const onClose = () => finish(unavailable());
    const timer = setTimeout(() => finish(new Error(`Redis not ready after ${timeoutMs} ms`)), timeoutMs);
    client.once("ready", onReady);
    client.once("close", onClose);
    client.once("end", onClose);
  });
}

/**
 * Creates a requester for `new Redis(requester)` from `@upstash/redis` that talks to `redisUrl`
 * (`redis://` or `rediss://`) directly, with the same request and reply shapes as Upstash's REST API.
 * Commands fail within about `commandTimeoutMs` while Redis is unreachable, and the connection comes back
 * on its own when Redis does.
 */
export function createTcpRequester(redisUrl: string, opts: TcpRequesterOptions = {}): TcpRequester {
  const timeoutMs = opts.commandTimeoutMs ?? 2000;
  const client = new Redis(redisUrl, {
    // ioredis 6 defaults to RESP3; Upstash's replies are RESP2-shaped (no maps, doubles as strings).
    protocol: 2,
    // A queued command that times out is still sent once the connection is back: a write could land after
    // its caller was told it failed. Without the queue, commands fail at once instead.
    enableOfflineQueue: false,
    // The same for commands in flight when the connection drops: reject them instead of resending.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  let lastError: Error | undefined;
  // Without a listener ioredis logs every failed reconnect attempt as an unhandled error event.
  client.on("error", (error: Error) => {
    lastError = error;
  });
  const runner = createRedisCommandRunner(client);

  async function send(req: UpstashRequest, encoding: ReplyEncoding) {
    const [kind, ...rest] = req.path ?? [];
    if (rest.length > 0 || (kind !== undefined && kind !== "pipeline" && kind !== "multi-exec")) {
      throw new TypeError(`Unsupported request path: /${req.path?.join("/")}`);
    }
    if (kind === undefined && !isCommand(req.body))
      throw new TypeError("A command must be a non-empty array");
    await whenReady(client, timeoutMs, () => lastError);
    if (kind === "pipeline") return runner.pipeline(commandsOf(req.body), encoding);
    if (kind === "multi-exec") return runner.multiExec(commandsOf(req.body), encoding);
    return runner.exec(req.body as UpstashCommand, encoding);
  }

  return {
    client,
    send,
    async request<TResult>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
      // Batches answer with an array, exactly as Upstash's own HttpClient returns them.
      return (await send(req, "utf8")) as UpstashResponse<TResult>;
    },
    async close() {
      if (client.status === "ready") await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}
