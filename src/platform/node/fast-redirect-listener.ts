import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { FastRedirect, RawRedirectRequest } from "../../links/redirect-fast-path";
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

/**
 * Puts the redirect fast path in front of the app's listener: a request it can answer on the
 * spot is written straight to the socket; every other request goes to `app` untouched.
 *
 * @example
 * serve({ fetch: app.fetch, createServer: (options, app) => createServer(options, withFastRedirects(serveFast, app)) });
 */
export function withFastRedirects(
  serveFast: (request: RawRedirectRequest) => FastRedirect | undefined,
  app: RequestListener,
): RequestListener {
  return function edgelinkRequest(incoming: IncomingMessage, outgoing: ServerResponse) {
    const method = incoming.method;
    if (method === "GET" || method === "HEAD") {
      const answer = serveFast({
        method,
        target: incoming.url ?? "",
        host: incoming.headers.host,
        headers: headerReader(incoming),
        remoteAddress: incoming.socket.remoteAddress,
      });
      if (answer) {
        try {
          outgoing.writeHead(answer.status, answer.headers);
        } catch {
          // A field Node refuses to write (it validates every value) is the app's to report.
          return app(incoming, outgoing);
        }
        outgoing.end();
        answer.after();
        return;
      }
    }
    return app(incoming, outgoing);
  };
}
