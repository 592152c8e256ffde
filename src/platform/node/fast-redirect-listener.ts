import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { FastRedirect, RawRedirectRequest, RedirectFastPath } from "../../links/redirect-fast-path";
import type { HeaderReader } from "../../ratelimit/client-ip";

/** Node's parsed request fields as a {@link HeaderReader} (names are lower case there). */
function headerReader(incoming: IncomingMessage): HeaderReader {
  const raw = incoming.headers;
  return {
    get(name) {
      const value = raw[name] ?? raw[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
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
      const request: RawRedirectRequest = {
        method,
        target: incoming.url ?? "",
        host: incoming.headers.host,
        headers: headerReader(incoming),
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
