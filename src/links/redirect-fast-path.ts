import type { ServedVisit } from "../analytics/click-recorder";
import { requestSeriesOf } from "../http/request-metrics";
import { type HeaderReader, resolveClientIp } from "../ratelimit/client-ip";
import { redirectHeaders } from "../ratelimit/rate-limit-headers";
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
  /** `performance.now()` when the request arrived, when that was before this call (after a warm-up). */
  startedAt?: number;
}

/** A redirect decided without waiting on anything: write it, then call `after`. */
export interface FastRedirect {
  status: number;
  headers: Record<string, string>;
  /** After the response is written: request metrics and the click hand-off. Never throws. */
  after(): void;
}

/**
 * Answers a request it can serve on the spot (see {@link createRedirectFastPath}), else undefined.
 */
export interface RedirectFastPath {
  (request: RawRedirectRequest): FastRedirect | undefined;
  /**
   * For a request the fast path left to the app because this process's LRU holds nothing for its
   * slug: loads the link through the other tiers (Redis, then Postgres, exactly as the app's route
   * would, filling the LRU on the way back), after which the fast path can answer it. Undefined when
   * there is nothing to load (not a `GET /:slug`, the LRU already holds the slug or a remembered
   * miss, or a lookup failed within the last second). Rejects when the lookup fails: the app then
   * answers (503 with Retry-After).
   */
  warm(request: RawRedirectRequest): Promise<void> | undefined;
}

const requestIdValue = /^[\w\-=]{1,255}$/;
/** The route label the app's request metrics give `GET /:slug`, so both paths add to one series. */
const routeLabel = "/:slug";

/** After a lookup through the other tiers failed, requests go straight to the app for this long. */
const warmPauseMs = 1_000;

/** Hosts and client addresses remembered per process before the memo starts over. */
const memoLimit = 1_024;

/** Whether `code` is one of `[A-Za-z0-9_-]`. */
function isSlugCode(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x2d
  );
}

/**
 * The slug of a `/:slug` request target — 1–64 characters of `[A-Za-z0-9_-]`, then the end or a
 * query, which is ignored (`%`-escapes are the app's job) — or undefined.
 */
export function slugOfTarget(target: string): string | undefined {
  if (target.charCodeAt(0) !== 0x2f) return undefined;
  let end = 1;
  while (end < target.length && end <= 65 && isSlugCode(target.charCodeAt(end))) end += 1;
  if (end === 1 || end > 65) return undefined;
  if (end < target.length && target.charCodeAt(end) !== 0x3f) return undefined;
  return end === target.length ? target.slice(1) : target.slice(1, end);
}

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
 * Anything else — another route, a password, a limit near or reached, an expired link — answers
 * `undefined` having changed nothing, and the request goes to the app, which handles every case.
 * A slug the LRU does not hold yet is first loaded by `warm` (the long tail of a link shortener's
 * traffic is mostly such slugs), then answered here when it turns out to be a plain link. The app
 * stays the one definition of the redirect; this only skips, for the request that needs none of
 * it, the framework's per-request work (a `Request` and `Headers` built from the socket, middleware
 * closures, zod, a `Response` copied back), which costs several times what the redirect itself does.
 *
 * @example
 * const serveFast = createRedirectFastPath(services);
 * const answer = serveFast({ method, target: req.url, host, headers, remoteAddress });
 * if (answer) { res.writeHead(answer.status, answer.headers).end(); answer.after(); }
 * else await serveFast.warm(request); // then serveFast(request) again, or the app
 */
export function createRedirectFastPath(services: Services): RedirectFastPath {
  const { config, linkService, rateLimiter, clickRecorder, metrics, logger } = services;
  const shortDomains = config.SHORT_DOMAINS;
  const limiterDecideNow = rateLimiter.decideNow?.bind(rateLimiter);
  if (!limiterDecideNow) return Object.assign(() => undefined, { warm: () => undefined });
  const decideNow = limiterDecideNow;
  const onRecordError = (error: unknown) => logger.warn("click hand-off failed", { error });
  // CLICK_RECORDING=off: a served redirect is only counted, so nothing of the visit is read.
  const countServed = clickRecorder.countServed?.bind(clickRecorder);
  const background = (work: Promise<unknown>) => {
    work.catch((error: unknown) => logger.warn("background revalidation failed", { error }));
  };
  // The same series the app's request-metrics middleware counts into.
  const requestSeries = requestSeriesOf(metrics);
  let warmingPausedUntil = 0;

  // A process sees few distinct Host fields and keeps its clients' connections open, so the short
  // domain of a Host and the limiter key of a socket address are worked out once, not per request.
  const domainByHost = new Map<string, string | null>();
  function domainOf(host: string): string | null {
    let domain = domainByHost.get(host);
    if (domain === undefined) {
      domain = plainHost.test(host) ? shortDomainOf(hostnameOf(host), shortDomains) : null;
      if (domainByHost.size >= memoLimit) domainByHost.clear();
      domainByHost.set(host, domain);
    }
    return domain;
  }
  const trustedHeader = config.CLIENT_IP_HEADER;
  const clientBySocketAddress = new Map<string, string>();
  function clientOf(request: RawRedirectRequest): string {
    const { remoteAddress, headers } = request;
    if (trustedHeader || remoteAddress === undefined) {
      return resolveClientIp({ runtime: "node", headers, trustedHeader, remoteAddress });
    }
    let client = clientBySocketAddress.get(remoteAddress);
    if (client === undefined) {
      client = resolveClientIp({ runtime: "node", headers, remoteAddress });
      if (clientBySocketAddress.size >= memoLimit) clientBySocketAddress.clear();
      clientBySocketAddress.set(remoteAddress, client);
    }
    return client;
  }
  /** The (domain, slug) a request for `GET /:slug` addresses, when the fast path may serve it. */
  function addressOf(request: RawRedirectRequest): { domain: string; slug: string } | undefined {
    const slug = slugOfTarget(request.target);
    if (slug === undefined || reservedSlugs.has(slug.toLowerCase())) return undefined;
    const { host } = request;
    const domain = host === undefined ? null : domainOf(host);
    return domain === null ? undefined : { domain, slug };
  }

  function warm(request: RawRedirectRequest): Promise<void> | undefined {
    if (performance.now() < warmingPausedUntil) return undefined;
    const address = addressOf(request);
    if (!address || linkService.holds(address.domain, address.slug)) return undefined;
    return linkService.resolve(address.domain, address.slug, background).then(
      () => {},
      (error: unknown) => {
        // The app will look again and answer the 503; until the pause ends it goes there directly,
        // so an outage costs one lookup per request, not two.
        warmingPausedUntil = performance.now() + warmPauseMs;
        throw error;
      },
    );
  }

  function serveFast(request: RawRedirectRequest): FastRedirect | undefined {
    const started = request.startedAt ?? performance.now();
    const address = addressOf(request);
    if (!address) return undefined;
    const { domain, slug } = address;
    const entry = linkService.peek(domain, slug);
    if (!entry || entry.passwordHash !== null || entry.maxClicks !== null || hasExpired(entry)) {
      return undefined;
    }
    const { headers } = request;
    const ip = clientOf(request);
    const decision = decideNow("redirect", ip);
    if (!decision?.allowed) return undefined;

    const rules = entry.rules?.length ? entry.rules : undefined;
    // Targeting rules read the visit's device and country even when it is not recorded.
    const visit: ServedVisit | undefined =
      countServed && !rules
        ? undefined
        : visitOf({ method: request.method, headers, ip }, entry, config.GEO_COUNTRY_HEADER);
    const target =
      rules && visit
        ? pickTarget(entry.url, rules, { device: deviceOf(visit.userAgent), country: visit.country })
        : entry.url;
    const incomingId = headers.get("x-request-id");
    // Node writes a plain object's fields as they are; no `Headers` is ever built on this path.
    const responseHeaders = redirectHeaders(
      decision,
      Date.now(),
      incomingId !== null && requestIdValue.test(incomingId) ? incomingId : crypto.randomUUID(),
      entry.cacheControl,
      withUtm(target, entry.utm),
    );
    const status = entry.redirectStatus;
    return {
      status,
      headers: responseHeaders,
      after() {
        const { count, time } = requestSeries(request.method, routeLabel, status);
        count();
        time((performance.now() - started) / 1000);
        if (countServed) countServed();
        else if (visit) clickRecorder.record(visit).catch(onRecordError);
      },
    };
  }

  return Object.assign(serveFast, { warm });
}
