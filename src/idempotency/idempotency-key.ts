import { z } from "@hono/zod-openapi";

export const idempotencyKeyMaxLength = 255;

/**
 * Reads an `Idempotency-Key` field value. The draft (draft-ietf-httpapi-idempotency-key-header)
 * makes it a Structured Field String, `"8e03978e-…"`; most clients send the bare value as Stripe
 * popularised it, so both are accepted and name the same key. Answers `null` when the value is
 * neither: not 1–255 printable ASCII characters, a broken quoted string, or a comma in a bare
 * value — which is what two `Idempotency-Key` fields joined by the platform look like.
 *
 * @example
 * parseIdempotencyKey('"a1b2"'); // "a1b2"
 * parseIdempotencyKey("a1b2");   // "a1b2"
 * parseIdempotencyKey("a, b");   // null
 */
export function parseIdempotencyKey(value: string): string | null {
  let key = value;
  if (value.startsWith('"')) {
    // RFC 8941 §3.3.3: printable ASCII, with only \" and \\ as escapes, and nothing after the close.
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(value);
    if (!match) return null;
    key = match[1]!.replace(/\\(["\\])/g, "$1");
  } else if (/[^\x20-\x7e]|[",]/.test(value)) {
    return null;
  }
  return key.length >= 1 && key.length <= idempotencyKeyMaxLength ? key : null;
}

/**
 * The request's fingerprint: SHA-256 (hex) of method, path with query, and the raw body bytes.
 * A retry must be byte-identical to be recognised; reordered JSON keys count as another request.
 */
export async function requestFingerprint(
  method: string,
  pathAndQuery: string,
  body: ArrayBuffer,
): Promise<string> {
  const head = new TextEncoder().encode(`${method.toUpperCase()} ${pathAndQuery}\n`);
  const bytes = new Uint8Array(head.length + body.byteLength);
  bytes.set(head);
  bytes.set(new Uint8Array(body), head.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The header as routes document it (`request: { headers: idempotencyKeyHeaders }`); the
 * middleware does the checking, so this schema only describes it. The draft asks servers to
 * publish their expiry policy, and this is where edgelink does.
 */
export const idempotencyKeyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .optional()
    .openapi({
      description:
        "Makes this POST safe to retry (draft-ietf-httpapi-idempotency-key-header). A unique value " +
        'per operation, such as a UUID, 1–255 printable ASCII characters, quoted ("…") or bare. ' +
        "Keys are scoped to the workspace and remembered for IDEMPOTENCY_TTL_SECONDS after the " +
        "request completes (24 hours by default). A retry with the same key and the byte-identical " +
        "request (method, path, body) gets the first response again with `Idempotent-Replayed: true`; " +
        "the same key with another request gets 422, and a retry while the first is still running " +
        "gets 409 with Retry-After. Server errors (5xx) and 408/425/429 are not remembered: retrying " +
        "them runs the request again.",
      example: "8e03978e-40d5-43e8-bc93-6894a57f9324",
    }),
});
