import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { FastRedirect, RawRedirectRequest, RedirectFastPath } from "../../links/redirect-fast-path";
import type { HeaderReader } from "../../ratelimit/client-ip";

/** Whether header name `field` is `name`, ASCII case-insensitively (field names are tokens). */
function sameFieldName(field: string, name: string): boolean {
  if (field.length !== name.length) return false;
  for (let i = 0; i < field.length; i += 1) {
    const a = field.charCodeAt(i);
    const b = name.charCodeAt(i);
    if (a !== b && ((a | 0x20) !== (b | 0x20) || (a | 0x20) < 0x61 || (a | 0x20) > 0x7a)) return false;
  }
  return true;
}

/**
 * A request's fields read straight from `rawHeaders`, as the app sees them: every line of a
 * repeated field, joined with ", " (a `Headers` built from the same lines answers the same).
 * Reading `incoming.headers` instead would make Node build its header object on every request,
 * lower-casing each name, which costs the fast path more than the lookups it serves.
 */
class RawHeaderReader implements HeaderReader {
  constructor(private readonly lines: string[]) {}

  get(name: string): string | null {
    const { lines } = this;
    let value: string | null = null;
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (sameFieldName(lines[i]!, name))
        value = value === null ? lines[i + 1]! : `${value}, ${lines[i + 1]}`;
    }
    return value;
  }

  /** The first `Host` line, as `incoming.headers.host` gives it (Node keeps the first of several). */
  host(): string | undefined {
    const { lines } = this;
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (sameFieldName(lines[i]!, "host")) return lines[i + 1];
    }
    return undefined;
  }
}

/** Writes a fast answer; false when Node refused a field (the app then reports it). */
function write(answer: FastRedirect, outgoing: ServerResponse): boolean {
  try {
    outgoing.writeHead(answer.status, answer.headers);
  } catch {
    return false;
  }
  outgoing.end();
  answer.after();
  return true;
}

/**
 * Puts the redirect fast path in front of the app's listener: a request it can answer on the
 * spot is written straight to the socket; a `GET /:slug` whose link this process does not hold
 * yet is looked up (`warm`) and then answered the same way; every other request goes to `app`
 * untouched.
 *
 * @example
 * serve({ fetch: app.fetch, createServer: (options, app) => createServer(options, withFastRedirects(serveFast, app)) });
 */
export function withFastRedirects(
  serveFast: ((request: RawRedirectRequest) => FastRedirect | undefined) &
    Partial<Pick<RedirectFastPath, "warm">>,
  app: RequestListener,
): RequestListener {
  return function edgelinkRequest(incoming: IncomingMessage, outgoing: ServerResponse) {
    const method = incoming.method;
    if (method === "GET" || method === "HEAD") {
      const headers = new RawHeaderReader(incoming.rawHeaders);
      const request: RawRedirectRequest = {
        method,
        target: incoming.url ?? "",
        host: headers.host(),
        headers,
        remoteAddress: incoming.socket.remoteAddress,
      };
      const answer = serveFast(request);
      if (answer) {
        if (!write(answer, outgoing)) app(incoming, outgoing);
        return;
      }
      request.startedAt = performance.now();
      const warming = serveFast.warm?.(request);
      if (warming) {
        const toApp = () => {
          if (!outgoing.headersSent && !outgoing.destroyed) app(incoming, outgoing);
        };
        warming.then(() => {
          const again = outgoing.destroyed ? undefined : serveFast(request);
          if (!again || !write(again, outgoing)) toApp();
        }, toApp);
        return;
      }
    }
    return app(incoming, outgoing);
  };
}
