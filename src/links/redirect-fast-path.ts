import type { ServedVisit } from "../analytics/click-recorder";
import { requestSeriesOf } from "../http/request-metrics";
import { type HeaderReader, resolveClientIp } from "../ratelimit/client-ip";
import { rateLimitHeaders } from "../ratelimit/rate-limit-headers";
import type { Services } from "../services";
import { hasExpired } from "./link-cache";
import { reservedSlugs } from "./slug";
import { withUtm } from "./url-safety";
import { deviceOf, pickTarget, visitOf } from "./visit";

/** A request as a server hands it over before any framework has looked at it. */
export interface RawRedirectRequest {
  method: string;
  /** The request target as received: path and query. */
  target: string;
  /** The Host field, port included. */
  host: string | undefined;
  headers: HeaderReader;
  /** The TCP peer. */
  remoteAddress: string | undefined;
}

/** A redirect decided without waiting on anything: write it, then call `after`. */
export interface FastRedirect {
  status: number;
  headers: Record<string, string>;
  /** After the response is written: request metrics and the click hand-off. Never throws. */
  after(): void;
}

/** What the app's `GET /:slug` route matches (a query is ignored; `%`-escapes are the app's job). */
const slugTarget = /^\/([A-Za-z0-9_-]{1,64})(?:\?|$)/;
const requestIdValue = /^[\w\-=]{1,255}$/;
/** The route label the app's request metrics give `GET /:slug`, so both paths add to one series. */
const routeLabel = "/:slug";

/** A Host field of a name or IPv4 address and an optional port; anything else is the app's to judge. */
const plainHost = /^[A-Za-z0-9._-]+(?::\d{1,5})?$/;

/** The lower-case hostname of a {@link plainHost} Host field, as `new URL(…).hostname` gives it. */
export function hostnameOf(host: string): string {
  const colon = host.indexOf(":");
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/** The short domain a request for `hostname` is about: itself when it is one, else the default. */
export function shortDomainOf(hostname: string, shortDomains: readonly string[]): string {
  const host = hostname.toLowerCase();
  return shortDomains.includes(host) ? host : shortDomains[0]!;
}

/**
 * The redirect path for the common case, outside the framework: `GET|HEAD /:slug` of a link this
 * process holds in its LRU, with no password, no expiry passed and no `maxClicks` (that one needs
 * Postgres), for a client the rate limiter can admit without a round trip. It answers exactly
 * what the app's route answers (status, `Location`, `Cache-Control`, `X-Request-Id`, the
 * rate-limit fields), counts the same metrics and hands the same click to the recorder.
 *
 * Anything else — another route, a cache miss, a password, a limit near or reached, an expired
 * link — answers `undefined` having changed nothing, and the request goes to the app, which
 * handles every case. The app stays the one definition of the redirect; this only skips, for the
 * request that needs none of it, the framework's per-request work (a `Request` and `Headers` built
 * from the socket, middleware closures, zod, a `Response` copied back), which costs several times
 * what the redirect itself does.
 *
 * @example
 * const serveFast = createRedirectFastPath(services);
 * const answer = serveFast({ method, target: req.url, host, headers, remoteAddress });
 * if (answer) { res.writeHead(answer.status, answer.headers).end(); answer.after(); }
 */
export function createRedirectFastPath(
  services: Services,
): (request: RawRedirectRequest) => FastRedirect | undefined {
  const { config, linkService, rateLimiter, clickRecorder, metrics, logger } = services;
  const shortDomains = config.SHORT_DOMAINS;
  const decideNow = rateLimiter.decideNow?.bind(rateLimiter);
  if (!decideNow) return () => undefined;
  const onRecordError = (error: unknown) => logger.warn("click hand-off failed", { error });
  // The same series the app's request-metrics middleware counts into.
  const requestSeries = requestSeriesOf(metrics);

  return function serveFast(request) {
    const started = performance.now();
    const match = slugTarget.exec(request.target);
    if (!match) return undefined;
    const slug = match[1]!;
    if (reservedSlugs.has(slug.toLowerCase())) return undefined;
    const { host } = request;
    if (host === undefined || !plainHost.test(host)) return undefined;
    const domain = shortDomainOf(hostnameOf(host), shortDomains);
    const entry = linkService.peek(domain, slug);
    if (!entry || entry.passwordHash !== null || entry.maxClicks !== null || hasExpired(entry)) {
      return undefined;
    }
    const { headers } = request;
    const ip = resolveClientIp({
      runtime: "node",
      headers,
      trustedHeader: config.CLIENT_IP_HEADER,
      remoteAddress: request.remoteAddress,
    });
    const decision = decideNow("redirect", ip);
    if (!decision?.allowed) return undefined;

    const visit: ServedVisit = visitOf(
      { method: request.method, headers, ip },
      entry,
      config.GEO_COUNTRY_HEADER,
    );
    const target = entry.rules?.length
      ? pickTarget(entry.url, entry.rules, { device: deviceOf(visit.userAgent), country: visit.country })
      : entry.url;
    const incomingId = headers.get("x-request-id");
    // Node writes a plain object's fields as they are; no `Headers` is ever built on this path.
    const responseHeaders = rateLimitHeaders(decision, Date.now());
    responseHeaders["X-Request-Id"] =
      incomingId !== null && requestIdValue.test(incomingId) ? incomingId : crypto.randomUUID();
    responseHeaders["Cache-Control"] = entry.cacheControl;
    responseHeaders.Location = withUtm(target, entry.utm);
    const status = entry.redirectStatus;
    return {
      status,
      headers: responseHeaders,
      after() {
        const { count, time } = requestSeries(request.method, routeLabel, status);
        count();
        time((performance.now() - started) / 1000);
        clickRecorder.record(visit).catch(onRecordError);
      },
    };
  };
}
