/**
 * Link passwords, hashed with PBKDF2-SHA-256 through WebCrypto so the same code verifies on the
 * edge and on Node. 100 000 iterations is the most workerd allows; passwords are short and
 * human-chosen, so the slow hash (plus per-IP rate limiting of attempts) is what protects them.
 * Stored as `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`, so iterations can rise later.
 */
const iterations = 100_000;
const encoder = new TextEncoder();

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, rounds: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: rounds },
    key,
    256,
  );
  return new Uint8Array(bits);
}

export async function hashLinkPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `pbkdf2-sha256$${iterations}$${toBase64(salt)}$${toBase64(await derive(password, salt, iterations))}`;
}

/** Constant-time comparison of the derived hash; a malformed stored value never verifies. */
export async function verifyLinkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, rounds, salt, hash] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || !rounds || !salt || !hash) return false;
  const expected = fromBase64(hash);
  const actual = await derive(password, fromBase64(salt), Number(rounds));
  if (actual.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < actual.length; i += 1) difference |= actual[i]! ^ expected[i]!;
  return difference === 0;
}
