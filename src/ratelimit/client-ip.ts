import type { Context } from "hono";
import type { AppEnv } from "../http/app-env";

/** The bucket of requests whose address cannot be told; they share one limit. */
export const unknownClient = "unknown";

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hextet = /^[0-9a-f]{1,4}$/i;

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail allowed), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parts = halves.map((half) => (half === "" ? [] : half.split(":")));
  const last = parts[parts.length - 1]!;
  const tail = last[last.length - 1];
  if (tail !== undefined && ipv4.test(tail)) {
    const [a, b, c, d] = tail.split(".").map(Number) as [number, number, number, number];
    last.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const [head = [], rest = []] = parts;
  const given = head.length + rest.length;
  if (![...head, ...rest].every((group) => hextet.test(group))) return undefined;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const groups = [...head, ...Array<string>(8 - given).fill("0"), ...rest];
  return groups.map((group) => Number.parseInt(group, 16));
}

/**
 * The identifier a client is limited by: an IPv4 address as is (also when IPv4-mapped, as Node
 * reports dual-stack sockets), an IPv6 address as its /64 — one subscriber usually holds a whole
 * /64, so per-address limits would be trivially dodged. Undefined when `text` is no IP address.
 *
 * @example
 * clientKey("::ffff:203.0.113.7"); // "203.0.113.7"
 * clientKey("2001:db8:1:2:a:b:c:d"); // "2001:db8:1:2::/64"
 */
export function clientKey(text: string): string | undefined {
  // The common cases, a plain IPv4 socket address and the IPv4-mapped form a dual-stack socket
  // reports, need none of the rewriting below.
  if (ipv4.test(text)) return text;
  if (text.startsWith("::ffff:") && ipv4.test(text.slice(7))) return text.slice(7);
  let address = text.trim();
  // `[v6]:port`, `v4:port` (some proxies add the port) and a zone id (`fe80::1%eth0`).
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  address = address.replace(/%.*$/, "");
  if (ipv4.test(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** Read access to request headers: a `Headers`, or a thin view of Node's raw ones. */
export interface HeaderReader {
  get(name: string): string | null;
}

/** Where {@link resolveClientIp} looks. */
export interface ClientIpSources {
  runtime: "node" | "workerd";
  /** Request headers. */
  headers: HeaderReader;
  /** Header set by the trusted proxy in front of Node (config CLIENT_IP_HEADER). */
  trustedHeader?: string;
  /** The TCP peer (Node). */
  remoteAddress?: string;
}

/**
 * The client's identifier, without trusting anything the client can write:
 *
 * - workerd: `CF-Connecting-IP`, which Cloudflare sets (and overwrites) itself.
 * - Node behind a proxy (CLIENT_IP_HEADER set): the RIGHT-most entry of that header. A proxy that
 *   appends (`X-Forwarded-For`) writes the address it saw last; everything left of it came from the
 *   client and is forgeable. With more than one proxy, name a header the outermost one sets to a
 *   single value (e.g. `X-Real-IP`) instead. A missing or invalid value falls back to the socket.
 * - Node otherwise: the socket's peer address.
 *
 * @example
 * resolveClientIp({ runtime: "node", headers, trustedHeader: "X-Forwarded-For", remoteAddress });
 */
export function resolveClientIp(sources: ClientIpSources): string {
  if (sources.runtime === "workerd") {
    return clientKey(sources.headers.get("cf-connecting-ip") ?? "") ?? unknownClient;
  }
  if (sources.trustedHeader) {
    const last = sources.headers.get(sources.trustedHeader)?.split(",").at(-1);
    const key = last === undefined ? undefined : clientKey(last);
    if (key) return key;
  }
  return clientKey(sources.remoteAddress ?? "") ?? unknownClient;
}

/** The socket peer on `@hono/node-server` (`c.env.incoming`), read without importing Node code. */
function socketAddress(env: unknown): string | undefined {
  const bindings = env as { incoming?: NodeLike; server?: { incoming?: NodeLike } } | undefined;
  return (bindings?.server?.incoming ?? bindings?.incoming)?.socket?.remoteAddress;
}
type NodeLike = { socket?: { remoteAddress?: string } };

/**
 * The client of this request per {@link resolveClientIp}, with the runtime and trusted header from
 * `c.var.services`.
 *
 * @example
 * rateLimit({ policy: "redirect", identify: clientIp });
 */
export function clientIp(c: Context<AppEnv>): string {
  const { runtime, config } = c.get("services");
  return resolveClientIp({
    runtime,
    headers: c.req.raw.headers,
    trustedHeader: config.CLIENT_IP_HEADER,
    remoteAddress: runtime === "node" ? socketAddress(c.env) : undefined,
  });
}
