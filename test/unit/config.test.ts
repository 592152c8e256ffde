import { describe, expect, it } from "vitest";
import { ConfigError, configSchema, loadConfig } from "../../src/config";

describe("loadConfig", () => {
  it("starts on defaults with no environment at all (the embedded default)", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      SHORT_DOMAINS: ["localhost"],
      PGLITE_DATA_DIR: ".data/pglite",
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.DATABASE_REPLICA_URLS).toEqual([]);
  });

  it("treats empty strings as unset, so a blank .env line falls back to the default", () => {
    const config = loadConfig({ PORT: "", DATABASE_URL: "" });
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: "abc" }, /^invalid configuration: PORT: /],
    [{ PORT: "70000" }, /^invalid configuration: PORT: /],
    [{ DATABASE_URL: "mysql://x/y" }, /^invalid configuration: DATABASE_URL: must be a postgres/],
    [{ REDIS_URL: "http://x" }, /^invalid configuration: REDIS_URL: must be a redis/],
    [
      { UPSTASH_REDIS_REST_URL: "https://x.upstash.io" },
      /^invalid configuration: UPSTASH_REDIS_REST_TOKEN \(missing\)/,
    ],
    [{ METRICS_TOKEN: "short" }, /^invalid configuration: METRICS_TOKEN: must be at least 16/],
    [{ DATABASE_REPLICA_URLS: "postgres://a/b, not a url" }, /^invalid configuration: DATABASE_REPLICA_URLS/],
    [{ SHORT_DOMAINS: "https://sho.rt" }, /^invalid configuration: SHORT_DOMAINS/],
  ])("refuses %o with one line naming the variable", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("parses lists and flags", () => {
    const config = loadConfig({
      DATABASE_REPLICA_URLS: "postgres://r1/db, postgres://r2/db",
      SHORT_DOMAINS: "Sho.rt, localhost",
      TRUST_PROXY: "true",
    });
    expect(config.DATABASE_REPLICA_URLS).toEqual(["postgres://r1/db", "postgres://r2/db"]);
    expect(config.SHORT_DOMAINS).toEqual(["sho.rt", "localhost"]);
    expect(config.TRUST_PROXY).toBe(true);
  });

  it("ignores variables it does not know, such as unrelated bindings", () => {
    expect(() => loadConfig({ SOMETHING_ELSE: "x", CLICKS: {} })).not.toThrow();
    expect(Object.keys(configSchema.shape)).not.toContain("SOMETHING_ELSE");
  });
});
