import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import type { UpstashRequest } from "@upstash/redis";
import { errors } from "@upstash/redis";
import type { ReplyEncoding } from "../src/platform/node/redis-command-runner";
import { createTcpRequester } from "../src/platform/node/redis-tcp-requester";
import { listen } from "./listen";

/** Upstash rejects larger requests as well; a body this big from local code is a bug. */
const maxBodyBytes = 10 * 1024 * 1024;

/** Options for {@link startUpstashRestServer}. */
export interface UpstashRestServerOptions {
  /** The Redis that commands run against. */
  redisUrl: string;
  /** Clients must send `Authorization: Bearer <token>` (or `?_token=<token>`). */
  token: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; defaults to 127.0.0.1. */
  host?: string;
}

/** A running stand-in; `url` is the value for `new Redis({ url, token })`. */
export interface UpstashRestServer {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit keep draining (not destroying) the request so the 413 can still be delivered.
      if (size <= maxBodyBytes) chunks.push(chunk);
      else reject(new HttpError(413, `ERR request body exceeds ${maxBodyBytes} bytes`));
    });
    req.on("error", reject);
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError(400, `ERR failed to parse JSON body: ${(error as Error).message}`);
  }
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Builds the Upstash request from the URL and body: JSON command(s), or the path-style `/set/key/value` form. */
async function toUpstashRequest(req: IncomingMessage, url: URL): Promise<UpstashRequest> {
  const body = await readBody(req);
  const path = url.pathname.replace(/\/+$/, "");
  if (path === "" || path === "/pipeline" || path === "/multi-exec") {
    if (req.method !== "POST") throw new HttpError(405, "ERR use POST with a JSON body");
    const parsed = parseJson(body);
    const batch = path !== "";
    const valid = batch
      ? Array.isArray(parsed) && parsed.every((cmd) => Array.isArray(cmd) && cmd.length > 0)
      : Array.isArray(parsed) && parsed.length > 0;
    if (!valid)
      throw new HttpError(
        400,
        `ERR body must be ${batch ? "an array of command arrays" : "a command array"}`,
      );
    return { path: batch ? [path.slice(1)] : [], body: parsed };
  }
  const command: string[] = path.slice(1).split("/").map(decodeURIComponent);
  // Upstash appends a POST body in path-style requests as the last argument, taken verbatim.
  if (req.method === "POST" && body.length > 0) command.push(body.toString("utf8"));
  return { path: [], body: command };
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const json = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

/**
 * Starts a local stand-in for Upstash's Redis REST API (`POST /`, `/pipeline`, `/multi-exec`, path-style
 * commands) backed by the standard Redis at `redisUrl`. For local development and tests only.
 */
export async function startUpstashRestServer(opts: UpstashRestServerOptions): Promise<UpstashRestServer> {
  const requester = createTcpRequester(opts.redisUrl);
  const expectedToken = digest(opts.token);

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
      const token = bearer ?? url.searchParams.get("_token") ?? "";
      if (!timingSafeEqual(digest(token), expectedToken)) throw new HttpError(401, "Unauthorized");
      if (req.method !== "POST" && req.method !== "GET") throw new HttpError(405, "ERR method not allowed");
      const request = await toUpstashRequest(req, url);
      const encoding: ReplyEncoding = req.headers["upstash-encoding"] === "base64" ? "base64" : "utf8";
      const reply = await requester.send(request, encoding);
      // A failing single command is an HTTP error; inside batches errors stay per item.
      send(res, !Array.isArray(reply) && reply.error !== undefined ? 400 : 200, reply);
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof HttpError) send(res, error.status, { error: message });
      // UpstashError: Redis refused the request as a whole (EXECABORT); URIError: a malformed path-style URL.
      else if (error instanceof errors.UpstashError || error instanceof URIError)
        send(res, 400, { error: message });
      else send(res, 503, { error: `ERR Redis unavailable: ${message}` });
    }
  });

  const base = await listen(server, opts.port, opts.host);

  return {
    url: base,
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The client keeps connections alive; without this close() would wait for their idle timeout.
        server.closeAllConnections();
      });
      await requester.close();
    },
  };
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  const redisUrl = process.env.REDIS_URL;
  const token = process.env.UPSTASH_STANDIN_TOKEN;
  if (!redisUrl || !token) {
    console.error("REDIS_URL and UPSTASH_STANDIN_TOKEN are required");
    process.exit(1);
  }
  const server = await startUpstashRestServer({
    redisUrl,
    token,
    port: Number(process.env.UPSTASH_STANDIN_PORT ?? 8079),
  });
  console.log(`Upstash REST stand-in listening: UPSTASH_REDIS_REST_URL=${server.url}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}
