import { crc32 } from "../platform/crc32";

const ascii = new TextEncoder();

/**
 * The shape of an edgelink API key, after GitHub's token format: a product prefix, a random
 * secret and a checksum, all in base62 so a key survives double-click selection and URLs.
 *
 * ```
 * elk_ 4f9XqT0bLmZ2…(32 chars) Ab12Cd
 * └┬─┘ └──────── secret ────────┘ └crc┘
 * ```
 *
 * - `elk_` says what the string is, so a leaked key is recognisable and attributable.
 * - The secret is 32 base62 characters from `crypto.getRandomValues` (≈190 bits). Lists show the
 *   first 12 characters of the key (8 of the secret), which still leaves ≈143 unknown bits.
 * - The last 6 characters are the CRC32 of everything before them, in base62. A mistyped or
 *   made-up key fails the checksum and is refused without a database or cache lookup.
 *
 * Secret scanners (GitHub push protection, gitleaks, trufflehog) can match keys with
 * {@link apiKeyPattern}: `\belk_[0-9A-Za-z]{38}\b`.
 */

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export const apiKeyPrefix = "elk_";
const secretLength = 32;
const checksumLength = 6;
/** Total length of a key: prefix + secret + checksum. */
export const apiKeyLength = apiKeyPrefix.length + secretLength + checksumLength;
/** How much of a key is stored and shown so people can tell their keys apart. */
export const displayPrefixLength = 12;

/**
 * For secret scanners and log scrubbers: matches an edgelink API key anywhere in text (add the `g`
 * flag with `new RegExp(apiKeyPattern, "g")` to find them all).
 */
export const apiKeyPattern = /\belk_[0-9A-Za-z]{38}\b/;
const wholeKey = /^elk_[0-9A-Za-z]{38}$/;

/** Base62 of a 32-bit number, left-padded to 6 characters (62^6 > 2^32, so it always fits). */
function checksumOf(body: string): string {
  let value = crc32(ascii.encode(body));
  let out = "";
  for (let i = 0; i < checksumLength; i++) {
    out = alphabet[value % 62]! + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** `length` base62 characters from the CSPRNG, by rejection sampling so no character is favoured. */
function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 248 = 4 × 62: bytes at or above it would make the first 8 characters likelier.
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
}

/**
 * A new API key. Shown to its owner once; only {@link hashApiKey} of it is stored.
 *
 * @example
 * const key = generateApiKey(); // "elk_…" (42 characters)
 */
export function generateApiKey(): string {
  const body = apiKeyPrefix + randomBase62(secretLength);
  return body + checksumOf(body);
}

/**
 * Whether `token` has the shape and checksum of an edgelink key. Pure and cheap: this is what
 * keeps typos and forgeries away from Postgres and Redis.
 */
export function isWellFormedApiKey(token: string): boolean {
  if (token.length !== apiKeyLength || !wholeKey.test(token)) return false;
  const split = token.length - checksumLength;
  return checksumOf(token.slice(0, split)) === token.slice(split);
}

/**
 * SHA-256 of the whole key, hex. A fast hash is the right tool here: the key carries ~190 random
 * bits, so there is nothing to brute-force and nothing a slow password hash (bcrypt, argon2) would
 * protect — it would only add latency to every API call. WebCrypto runs on Node and workerd alike.
 */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The visible part stored next to the hash and shown in lists (`elk_4f9XqT0b`). */
export function displayPrefix(key: string): string {
  return key.slice(0, displayPrefixLength);
}
