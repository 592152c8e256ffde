import { describe, expect, it } from "vitest";
import { clientKey, resolveClientIp, unknownClient } from "../../src/ratelimit/client-ip";

const headers = (init: Record<string, string>) => new Headers(init);

describe("clientKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["203.0.113.7:51234", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::FFFF:cb00:7107", "203.0.113.7"],
    ["2001:db8:1:2:a:b:c:d", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::d", "2001:db8:1:2::/64"],
    ["[2001:db8::1]:443", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
  ])("%s → %s", (input, expected) => {
    expect(clientKey(input)).toBe(expected);
  });

  it.each([
    "",
    "unknown",
    "256.1.1.1",
    "1.2.3",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "gggg::1",
    "<script>",
  ])("refuses %j", (input) => {
    expect(clientKey(input)).toBeUndefined();
  });
});

describe("resolveClientIp", () => {
  it("on the edge trusts only CF-Connecting-IP, which Cloudflare overwrites", () => {
    const h = headers({ "cf-connecting-ip": "198.51.100.4", "x-forwarded-for": "10.0.0.1" });
    expect(resolveClientIp({ runtime: "workerd", headers: h })).toBe("198.51.100.4");
    expect(resolveClientIp({ runtime: "workerd", headers: headers({}) })).toBe(unknownClient);
  });

  it("on Node without a trusted header uses the socket, ignoring forwarded headers the client can forge", () => {
    const h = headers({ "x-forwarded-for": "1.1.1.1" });
    expect(resolveClientIp({ runtime: "node", headers: h, remoteAddress: "::ffff:192.0.2.9" })).toBe(
      "192.0.2.9",
    );
  });

  it("behind a trusted proxy takes the RIGHT-most entry: the one the proxy appended, not the client's", () => {
    const h = headers({ "x-forwarded-for": "6.6.6.6, 7.7.7.7, 192.0.2.50" });
    const sources = {
      runtime: "node" as const,
      headers: h,
      trustedHeader: "X-Forwarded-For",
      remoteAddress: "10.0.0.2",
    };
    expect(resolveClientIp(sources)).toBe("192.0.2.50");
    // A single-valued header (X-Real-IP) works the same way.
    expect(
      resolveClientIp({
        ...sources,
        trustedHeader: "x-real-ip",
        headers: headers({ "x-real-ip": "192.0.2.51" }),
      }),
    ).toBe("192.0.2.51");
  });

  it("falls back to the socket when the trusted header is missing or not an address", () => {
    const base = { runtime: "node" as const, trustedHeader: "X-Forwarded-For", remoteAddress: "10.0.0.2" };
    expect(resolveClientIp({ ...base, headers: headers({}) })).toBe("10.0.0.2");
    expect(resolveClientIp({ ...base, headers: headers({ "x-forwarded-for": "1.1.1.1, garbage" }) })).toBe(
      "10.0.0.2",
    );
    expect(resolveClientIp({ ...base, remoteAddress: undefined, headers: headers({}) })).toBe(unknownClient);
  });
});
