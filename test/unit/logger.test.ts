import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/platform/log/logger";

describe("createLogger", () => {
  it("writes one JSON object per line with level, message and fields", () => {
    const lines: string[] = [];
    const log = createLogger({
      level: "info",
      base: { service: "edgelink" },
      write: (line) => lines.push(line),
    });
    log.child({ requestId: "r1" }).info("hello", { n: 1 });
    log.debug("hidden");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: "info",
      msg: "hello",
      service: "edgelink",
      requestId: "r1",
      n: 1,
    });
  });

  it("never writes secrets, however deeply they are nested", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (line) => lines.push(line) });
    log.info("request", {
      headers: { authorization: "Bearer el_live_secret", cookie: "sid=1" },
      config: { DATABASE_URL: "postgres://u:pw@h/db", nested: { password: "hunter2", apiKey: "k" } },
      error: new Error("boom"),
      note: "could not reach redis://default:s3cr3t@cache.internal:6379",
    });
    expect(lines[0]).toContain("redis://[redacted]@cache.internal:6379");
    expect(lines[0]).not.toMatch(/el_live_secret|sid=1|pw@h|hunter2|"k"|s3cr3t/);
    expect(JSON.parse(lines[0]!).error).toEqual({ name: "Error", message: "boom" });
  });
});
