import { randomUUID } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { UpstashRestServer } from "../../dev/upstash-rest-server";
import { startUpstashRestServer } from "../../dev/upstash-rest-server";

const redisUrl = process.env.REDIS_URL;

describe.skipIf(!redisUrl)("Upstash REST stand-in (through @upstash/redis)", () => {
  const prefix = `test:upstash-rest:${randomUUID()}`;
  const key = (name: string) => `${prefix}:${name}`;
  const token = randomUUID();
  let server: UpstashRestServer;
  let redis: Redis;
  let rawRedis: Redis;
  let direct: IORedis;

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, ...headers },
      body,
    });

  beforeAll(async () => {
    server = await startUpstashRestServer({ redisUrl: redisUrl!, token, port: 0 });
    redis = new Redis({ url: server.url, token, enableTelemetry: false });
    rawRedis = new Redis({ url: server.url, token, enableTelemetry: false, automaticDeserialization: false });
    direct = new IORedis(redisUrl!);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    const keys = await direct.keys(`${prefix}:*`);
    if (keys.length > 0) await direct.del(...keys);
    direct.disconnect();
    await server.close();
  });

  it("round-trips JSON values, numbers and TTLs", async () => {
    await redis.set(key("json"), { a: 1, b: [true, null, "x"] });
    expect(await redis.get(key("json"))).toEqual({ a: 1, b: [true, null, "x"] });
    expect(await redis.get(key("missing"))).toBeNull();
    expect(await redis.incr(key("n"))).toBe(1);
    expect(await redis.expire(key("n"), 100)).toBe(1);
    expect(await redis.ttl(key("n"))).toBeGreaterThan(90);
  });

  it("keeps unicode strings and strings that look like numbers or JSON intact", async () => {
    const values = [
      "héllo ✓",
      "🚀 日本語",
      "123",
      "1.50",
      '{"a":1}',
      "[1,2]",
      "null",
      "true",
      "OK",
      "",
      "T0s=",
    ];
    await Promise.all(values.map((value, i) => rawRedis.set(key(`s${i}`), value)));
    expect(await Promise.all(values.map((_, i) => rawRedis.get(key(`s${i}`))))).toEqual(values);
    expect(await direct.get(key("s0"))).toBe("héllo ✓");
    expect(await redis.get(key("s0"))).toBe("héllo ✓");
    // With automatic deserialization the client itself turns "123" into 123 but leaves "1.50" alone.
    expect(await redis.mget(key("s0"), key("missing"), key("s2"), key("s3"))).toEqual([
      "héllo ✓",
      null,
      123,
      "1.50",
    ]);
  });

  it("auto-pipelines concurrent commands into /pipeline", async () => {
    const before = (redis as unknown as { pipelineCounter: number }).pipelineCounter;
    const [a, b, c] = await Promise.all([
      redis.set(key("ap"), 5),
      redis.incr(key("ap")),
      redis.get(key("ap")),
    ]);
    expect([a, b, c]).toEqual(["OK", 6, 6]);
    expect((redis as unknown as { pipelineCounter: number }).pipelineCounter).toBeGreaterThan(before);
  });

  it("returns hashes, sorted sets and script results in Upstash's shapes", async () => {
    await redis.hset(key("h"), { name: "héllo ✓", "2": "two", obj: { y: 2 } });
    expect(await redis.hgetall(key("h"))).toEqual({ name: "héllo ✓", "2": "two", obj: { y: 2 } });
    await redis.zadd(key("z"), { score: 1.5, member: "a" }, { score: 2, member: "b" });
    expect(await redis.zrange(key("z"), 0, -1, { withScores: true })).toEqual(["a", 1.5, "b", 2]);
    expect(await redis.eval("return {KEYS[1], ARGV[1], 3, {4, 'é'}}", [key("k")], ["v"])).toEqual([
      key("k"),
      "v",
      3,
      [4, "é"],
    ]);
  });

  it("runs pipelines with per-command errors and transactions", async () => {
    const results = await redis
      .pipeline()
      .set(key("p"), "x")
      .incr(key("p"))
      .get(key("p"))
      .exec({ keepErrors: true });
    expect(results[0]).toEqual({ error: undefined, result: "OK" });
    expect(results[1]?.error).toMatch(/^ERR value is not an integer/);
    expect(results[2]).toEqual({ error: undefined, result: "x" });
    await expect(redis.pipeline().get(key("p")).incr(key("p")).exec()).rejects.toThrow(
      /Command 2 \[ incr \] failed/,
    );

    expect(await redis.multi().set(key("m"), 1).incr(key("m")).get(key("m")).exec()).toEqual(["OK", 2, 2]);
    const aborted = await post("/multi-exec", JSON.stringify([["SET", key("m"), "9"], ["GET"]]));
    expect(aborted.status).toBe(400);
    expect(await aborted.json()).toEqual({ error: expect.stringMatching(/^EXECABORT/) });
    expect(await redis.get(key("m"))).toBe(2);
  });

  it("answers the REST protocol: base64 encoding, errors, auth, path-style", async () => {
    await direct.set(key("raw"), "héllo");
    const body = JSON.stringify(["MGET", key("raw"), key("missing")]);
    const encoded = await post("/", body, { "upstash-encoding": "base64" });
    expect(await encoded.json()).toEqual({ result: [Buffer.from("héllo").toString("base64"), null] });
    expect(await (await post("/", body)).json()).toEqual({ result: ["héllo", null] });
    expect(
      await (
        await post("/", JSON.stringify(["STRLEN", key("raw")]), { "upstash-encoding": "base64" })
      ).json(),
    ).toEqual({
      result: 6,
    });

    const failed = await post("/", JSON.stringify(["INCR", key("raw")]));
    expect(failed.status).toBe(400);
    expect(await failed.json()).toEqual({ error: expect.stringMatching(/^ERR value is not an integer/) });
    const badJson = await post("/", "[not json");
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({ error: expect.stringMatching(/^ERR/) });
    expect((await post("/pipeline", '{"a":1}')).status).toBe(400);

    const noAuth = await fetch(server.url, { method: "POST", body: '["PING"]' });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ error: "Unauthorized" });
    await expect(
      new Redis({ url: server.url, token: "wrong", enableTelemetry: false }).get(key("raw")),
    ).rejects.toThrow(/Unauthorized/);

    const pathStyle = await fetch(`${server.url}/get/${encodeURIComponent(key("raw"))}?_token=${token}`);
    expect(await pathStyle.json()).toEqual({ result: "héllo" });
  });

  it("runs @upstash/ratelimit, with EVALSHA hits after the first load", async () => {
    const realFetch = globalThis.fetch;
    const seen = { evalsha: 0, eval: 0, noscript: 0 };
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const sent = typeof init?.body === "string" ? init.body : "";
      seen.evalsha += sent.match(/\["evalsha"/g)?.length ?? 0;
      seen.eval += sent.match(/\["eval"/g)?.length ?? 0;
      const res = await realFetch(input, init);
      seen.noscript += (await res.clone().text()).match(/NOSCRIPT/g)?.length ?? 0;
      return res;
    });
    // A fresh server starts with an empty SHA map, whatever Redis' script cache holds.
    const fresh = await startUpstashRestServer({ redisUrl: redisUrl!, token });
    try {
      const client = new Redis({ url: fresh.url, token, enableTelemetry: false });
      const make = (limiter: ConstructorParameters<typeof Ratelimit>[0]["limiter"], name: string) =>
        new Ratelimit({ redis: client, limiter, prefix: key(`rl:${name}`), analytics: false });
      const run = async (rl: Ratelimit, n: number) => {
        const out: [boolean, number][] = [];
        for (let i = 0; i < n; i++) {
          const { success, remaining } = await rl.limit("user");
          out.push([success, remaining]);
        }
        return out;
      };
      const twoThenBlocked = [
        [true, 1],
        [true, 0],
        [false, 0],
      ];
      expect(await run(make(Ratelimit.slidingWindow(2, "1 h"), "sliding"), 3)).toEqual(twoThenBlocked);
      expect(seen).toEqual({ evalsha: 3, eval: 1, noscript: 1 });
      expect(await run(make(Ratelimit.fixedWindow(2, "1 h"), "fixed"), 3)).toEqual(twoThenBlocked);
      expect(await run(make(Ratelimit.tokenBucket(1, "1 h", 2), "bucket"), 3)).toEqual(twoThenBlocked);
      expect(seen).toEqual({ evalsha: 9, eval: 3, noscript: 3 });
    } finally {
      await fresh.close();
    }
  });
});
