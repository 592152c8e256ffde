import { describe, expect, it } from "vitest";
import { requestDomain } from "../../src/links/redirect-routes";
import { reservedSlugs, slugSchema } from "../../src/links/slug";

describe("requestDomain", () => {
  it("uses the request's host when it is one of ours, ignoring port and case", () => {
    expect(requestDomain("http://Sho.RT:8080/x", ["localhost", "sho.rt"])).toBe("sho.rt");
  });
  it("falls back to the default domain for any other host", () => {
    expect(requestDomain("http://10.0.0.7/x", ["sho.rt", "localhost"])).toBe("sho.rt");
  });
});

describe("slugSchema", () => {
  it("accepts 1-64 characters of the slug alphabet, case-sensitively", () => {
    for (const slug of ["a", "A-b_9", "x".repeat(64)]) expect(slugSchema.safeParse(slug).success).toBe(true);
  });
  it("refuses reserved words in any case, and anything outside the alphabet", () => {
    for (const slug of [...reservedSlugs, "API", "Healthz", "", "x".repeat(65), "a b", "a/b", "ü", "a.b"]) {
      expect(slugSchema.safeParse(slug).success, slug).toBe(false);
    }
  });
});
