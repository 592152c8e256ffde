import { describe, expect, it } from "vitest";
import { slugOfTarget } from "../../src/links/redirect-fast-path";
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

describe("slugOfTarget", () => {
  // What the app's `GET /:slug` route matches, written as the regular expression the fast path
  // used to run per request: the scan must answer the same for every target.
  const routeTarget = /^\/([A-Za-z0-9_-]{1,64})(?:\?|$)/;
  const alphabet = "aZ09_-/?#%.~ éx";

  it("answers the slug of exactly the targets the route matches, for random targets", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    for (let run = 0; run < 5_000; run += 1) {
      const length = next() % 70;
      let target = next() % 5 === 0 ? "" : "/";
      for (let i = 0; i < length; i += 1) {
        target += next() % 3 === 0 ? alphabet[next() % alphabet.length] : "aB3_-"[next() % 5];
      }
      expect(slugOfTarget(target), JSON.stringify(target)).toBe(routeTarget.exec(target)?.[1]);
    }
  });

  it("takes 1–64 characters, ignores a query, and refuses the rest", () => {
    expect(slugOfTarget("/hot")).toBe("hot");
    expect(slugOfTarget("/hot?utm=1")).toBe("hot");
    expect(slugOfTarget(`/${"x".repeat(64)}`)).toBe("x".repeat(64));
    expect(slugOfTarget(`/${"x".repeat(65)}`)).toBeUndefined();
    for (const target of ["", "/", "/?q", "hot", "/a/b", "/a#b", "/%41", "/a.b"]) {
      expect(slugOfTarget(target), target).toBeUndefined();
    }
  });
});
