import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  apiKeyLength,
  apiKeyPattern,
  displayPrefix,
  generateApiKey,
  hashApiKey,
  isWellFormedApiKey,
} from "../../src/auth/api-key-format";
import { crc32 as crc32OfBytes } from "../../src/platform/crc32";

const crc32 = (text: string) => crc32OfBytes(new TextEncoder().encode(text));

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The same body with the checksum an attacker (or a careful typist) would compute. */
function withChecksum(body: string): string {
  let value = crc32(body);
  let sum = "";
  for (let i = 0; i < 6; i++) {
    sum = base62[value % 62] + sum;
    value = Math.floor(value / 62);
  }
  return body + sum;
}

describe("API key format", () => {
  it("is elk_ + 32 random base62 characters + a 6-character checksum, and passes its own check", () => {
    const key = generateApiKey();
    expect(key).toHaveLength(42);
    expect(apiKeyLength).toBe(42);
    expect(key).toMatch(/^elk_[0-9A-Za-z]{38}$/);
    expect(isWellFormedApiKey(key)).toBe(true);
    expect(withChecksum(key.slice(0, -6))).toBe(key);
  });

  it("never repeats and uses the whole alphabet", () => {
    const keys = Array.from({ length: 2_000 }, generateApiKey);
    expect(new Set(keys).size).toBe(keys.length);
    const seen = new Set(keys.flatMap((key) => [...key.slice(4, 36)]));
    expect(seen.size).toBe(62);
  });

  it("refuses every one-character change, in the secret and in the checksum", () => {
    const key = generateApiKey();
    for (let i = 4; i < key.length; i++) {
      const swapped = key[i] === "a" ? "b" : "a";
      const typo = key.slice(0, i) + swapped + key.slice(i + 1);
      expect(isWellFormedApiKey(typo), `position ${i}`).toBe(false);
    }
  });

  it("refuses two adjacent characters swapped (the commonest typo)", () => {
    let key = generateApiKey();
    while (key[10] === key[11]) key = generateApiKey();
    const swapped = `${key.slice(0, 10)}${key[11]}${key[10]}${key.slice(12)}`;
    expect(isWellFormedApiKey(swapped)).toBe(false);
  });

  it("refuses another product's prefix even with a correct checksum for it", () => {
    const secret = generateApiKey().slice(4, 36);
    for (const prefix of ["elx_", "ELK_", "ghp_", "elk-"]) {
      expect(isWellFormedApiKey(withChecksum(prefix + secret)), prefix).toBe(false);
    }
  });

  it("refuses the wrong length, whitespace and characters outside base62", () => {
    const key = generateApiKey();
    const body = key.slice(0, -6);
    for (const token of [
      "",
      "elk_",
      key.slice(0, -1),
      `${key}0`,
      withChecksum(body.slice(0, -1)),
      withChecksum(`${body}x`),
      ` ${key}`,
      `${key}\n`,
      withChecksum(`${body.slice(0, -1)}-`),
      withChecksum(`${body.slice(0, -1)}é`),
    ]) {
      expect(isWellFormedApiKey(token), JSON.stringify(token)).toBe(false);
    }
  });

  it("computes the standard CRC-32", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("")).toBe(0);
  });

  it("hashes the whole key with SHA-256 (hex) and shows only its first 12 characters", async () => {
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    expect(hash).toBe(createHash("sha256").update(key).digest("hex"));
    expect(hash).not.toBe(await hashApiKey(generateApiKey()));
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });

  it("gives secret scanners a pattern that finds keys in text and ignores look-alikes", () => {
    const key = generateApiKey();
    const text = `export EDGELINK_KEY=${key}\nAuthorization: Bearer ${key}; elk_short; xelk_${key.slice(4)}`;
    const found = [...text.matchAll(new RegExp(apiKeyPattern, "g"))].map((match) => match[0]);
    expect(found).toEqual([key, key]);
  });
});
