import Bowser from "bowser";
import type { Cache } from "../platform/cache/cache";

export type Device = "desktop" | "mobile" | "tablet" | "tv" | "other";

export interface VisitDetails {
  device: Device;
  browser: string | null;
  os: string | null;
  referrerHost: string | null;
}

/** The referrer's host name, lower case; null when there is none or it is not a URL. */
export function referrerHostOf(referrer: string | null): string | null {
  if (!referrer) return null;
  try {
    return new URL(referrer).hostname.toLowerCase() || null;
  } catch {
    return null;
  }
}

/** Device, browser and OS names from the user agent (bowser, MIT); the raw string is not kept. */
export function describeVisit(userAgent: string | null, referrer: string | null): VisitDetails {
  const referrerHost = referrerHostOf(referrer);
  if (!userAgent) return { device: "other", browser: null, os: null, referrerHost };
  const parsed = Bowser.parse(userAgent);
  const type = parsed.platform.type;
  const device: Device =
    type === "mobile" || type === "tablet" || type === "desktop" || type === "tv" ? type : "other";
  return { device, browser: parsed.browser.name ?? null, os: parsed.os.name ?? null, referrerHost };
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** SHA-256 of `text` (UTF-8) as hex, by Web Crypto: the same on every runtime, asynchronous. */
export async function webCryptoSha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Visitor hashes for unique counts without keeping the IP: SHA-256 of (salt, IP, user agent). The
 * salt is random, one per UTC day, shared by every instance through the cache (first writer wins)
 * and expires two days later, after which yesterday's hashes can no longer be linked to anyone.
 *
 * `sha256Hex` defaults to Web Crypto's digest, which runs as a job off the main thread: on Node a
 * synchronous hash (node:crypto, passed in by the platform) costs a fraction of that per click, and
 * once the day's salt is known the hash is answered synchronously (a string, not a promise).
 */
export function createVisitorHasher(
  cache: Cache,
  now: () => number = Date.now,
  sha256Hex: (text: string) => string | Promise<string> = webCryptoSha256Hex,
): (ip: string | null, userAgent: string | null) => string | null | Promise<string | null> {
  const salts = new Map<string, Promise<string>>();
  // The day's salt once known: with it and a synchronous hash, a click's hash needs no await.
  let known: { dayNumber: number; salt: string } | undefined;
  const saltFor = (day: string, dayNumber: number): Promise<string> => {
    let salt = salts.get(day);
    if (!salt) {
      salt = (async () => {
        const fresh = hex(crypto.getRandomValues(new Uint8Array(32)).buffer);
        const key = `visitor-salt:${day}`;
        // Instances race on the first visit of the day: the first writer's salt is everyone's.
        if (await cache.add(key, fresh, { ttlSeconds: 2 * 86_400 })) return fresh;
        return (await cache.get<string>(key)) ?? fresh;
      })();
      salt.then(
        (value) => {
          if (salts.get(day) === salt) known = { dayNumber, salt: value };
        },
        () => salts.delete(day),
      );
      salts.clear();
      salts.set(day, salt);
    }
    return salt;
  };
  const digest = (salt: string, ip: string, userAgent: string | null) => {
    const hashed = sha256Hex(`${salt}|${ip}|${userAgent ?? ""}`);
    return typeof hashed === "string" ? hashed.slice(0, 32) : hashed.then((h) => h.slice(0, 32));
  };
  return (ip, userAgent) => {
    if (!ip) return null;
    const at = now();
    const dayNumber = Math.floor(at / 86_400_000);
    if (known?.dayNumber === dayNumber) return digest(known.salt, ip, userAgent);
    const day = new Date(at).toISOString().slice(0, 10);
    return saltFor(day, dayNumber).then((salt) => digest(salt, ip, userAgent));
  };
}
