import { createHash, randomUUID } from "node:crypto";
import type { Server, Socket } from "node:net";
import { connect, createServer } from "node:net";
import { Ratelimit } from "@upstash/ratelimit";
import type { Requester, UpstashRequest, UpstashResponse } from "@upstash/redis";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TcpRequester } from "../../src/platform/node/redis-tcp-requester";
import { createTcpRequester } from "../../src/platform/node/redis-tcp-requester";

const redisUrl = process.env.REDIS_URL;

/** Counts what actually goes over the wire, to prove EVALSHA hits after the first load. */
function countingRequester(inner: Requester) {
  const counts = { eval: 0, evalsha: 0, noscript: 0 };
  const requester: Requester = {
    async request<T>(req: UpstashRequest): Promise<UpstashResponse<T>> {
      const name = String((req.body as unknown[])[0]).toLowerCase();
      if (name === "eval" || name === "evalsha") counts[name]++;
      const res = await inner.request<T>(req);
      if (res.error?.startsWith("NOSCRIPT")) counts.noscript++;
      return res;
    },
  };
  return { requester, counts };
}

/** A TCP proxy in front of Redis that can be taken down and brought back on the same port. */
async function startProxy(target: URL) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  await listen(0);
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    down: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    up: () => listen(port),
  };
}

async function elapsed(run: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = Date.now();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ms: Date.now() - start, error };
}

describe.skipIf(!redisUrl)("createTcpRequester (@upstash/redis over TCP)", () => {
  const prefix = `test:tcp-requester:${randomUUID()}`;
  const key = (name: string) => `${prefix}:${name}`;
  let requester: TcpRequester;
  let redis: Redis;

  beforeAll(() => {
    requester = createTcpRequester(redisUrl!);
    redis = new Redis(requester);
  });

  afterAll(async () => {
    const keys = await requester.client.keys(`${prefix}:*`);
    if (keys.length > 0) await requester.client.del(...keys);
    await requester.close();
  });

  it("round-trips JSON values, numbers and TTLs", async () => {
    await redis.set(key("json"), { a: 1, b: [true, null, "x"] });
    expect(await redis.get(key("json"))).toEqual({ a: 1, b: [true, null, "x"] });
    expect(await redis.get(key("missing"))).toBeNull();
    expect(await redis.incr(key("n"))).toBe(1);
    expect(await redis.incrby(key("n"), 41)).toBe(42);
    expect(await redis.expire(key("n"), 100)).toBe(1);
    const ttl = await redis.ttl(key("n"));
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.ttl(key("missing"))).toBe(-2);
  });

  it("returns hashes, sorted sets, streams and script results in Upstash's shapes", async () => {
    await redis.hset(key("h"), { name: "héllo ✓", "2": "two", obj: { y: 2 } });
    expect(await redis.hgetall(key("h"))).toEqual({ name: "héllo ✓", "2": "two", obj: { y: 2 } });
    // Raw: a flat array in Redis' order, not ioredis' HGETALL object.
    const raw = await requester.request<unknown[]>({ body: ["HGETALL", key("h")] });
    expect(raw.result).toHaveLength(6);
    expect(raw.result).toContain("héllo ✓");

    await redis.zadd(key("z"), { score: 1.5, member: "a" }, { score: 2, member: "b" });
    expect(await redis.zrange(key("z"), 0, -1, { withScores: true })).toEqual(["a", 1.5, "b", 2]);
    expect(await requester.request({ body: ["zrange", key("z"), 0, -1, "WITHSCORES"] })).toEqual({
      result: ["a", "1.5", "b", "2"],
    });

    const id = await redis.xadd(key("s"), "*", { f: "v" });
    expect(await requester.request({ body: ["XRANGE", key("s"), "-", "+"] })).toEqual({
      result: [[id, ["f", "v"]]],
    });
    await requester.request({ body: ["XGROUP", "CREATE", key("s"), "g", "0"] });
    expect(
      await requester.request({ body: ["XREADGROUP", "GROUP", "g", "c", "STREAMS", key("s"), ">"] }),
    ).toEqual({
      result: [[key("s"), [[id, ["f", "v"]]]]],
    });

    expect(await redis.eval("return {KEYS[1], ARGV[1], 3, {4, 'x'}, false}", [key("k")], ["v"])).toEqual([
      key("k"),
      "v",
      3,
      [4, "x"],
      null,
    ]);
  });

  it("keeps binary values intact when rendering base64", async () => {
    const bytes = Buffer.from([0xff, 0x00, 0x41, 0xc3]);
    await requester.client.set(key("bin"), bytes);
    expect(await requester.send({ body: ["GET", key("bin")] }, "base64")).toEqual({
      result: bytes.toString("base64"),
    });
    expect(await requester.send({ body: ["STRLEN", key("bin")] }, "base64")).toEqual({ result: 4 });
  });

  it("runs pipelines and transactions with per-command errors", async () => {
    expect(await redis.pipeline().set(key("p"), "x").get(key("p")).exec()).toEqual(["OK", "x"]);
    const results = await redis.pipeline().incr(key("p")).get(key("p")).exec({ keepErrors: true });
    expect(results[0]?.error).toMatch(/^ERR value is not an integer/);
    expect(results[1]).toEqual({ error: undefined, result: "x" });
    await expect(redis.pipeline().incr(key("p")).exec()).rejects.toThrow(/Command 1 \[ incr \] failed/);

    expect(await redis.multi().set(key("m"), 1).incr(key("m")).get(key("m")).exec()).toEqual(["OK", 2, 2]);
    const raw = await requester.request({
      path: ["multi-exec"],
      body: [
        ["INCR", key("p")],
        ["GET", key("p")],
      ],
    });
    expect(raw).toEqual([{ error: expect.stringMatching(/^ERR value is not an integer/) }, { result: "x" }]);
    await expect(
      requester.request({ path: ["multi-exec"], body: [["SET", key("p"), "y"], ["GET"]] }),
    ).rejects.toThrow(/^EXECABORT .*wrong number of arguments/);
    expect(await redis.get(key("p"))).toBe("x");
  });

  it("answers Redis errors as { error } and refuses connection-state commands", async () => {
    expect(await requester.request({ body: ["NOSUCHCOMMAND"] })).toEqual({
      error: expect.stringMatching(/^ERR unknown command/),
    });
    expect(await requester.request({ body: ["SELECT", 1] })).toEqual({
      error: expect.stringMatching(/^ERR/),
    });
    await expect(redis.eval("return redis.call('NOPE')", [], [])).rejects.toThrow(/Unknown Redis command/);
  });

  it("maps SHAs of rewritten scripts so EVALSHA with the original SHA works", async () => {
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(createHash("sha1").update(script).digest("hex"));
    expect(await redis.evalsha(sha, [key("sha")], [])).toBe(1);
    expect(await redis.scriptExists(sha)).toEqual([1]);
    // Redis itself never sees the original script, which 7.0 would refuse.
    expect(await requester.client.script("EXISTS", sha)).toEqual([0]);
    // Flags Redis 7.0 knows survive the rewrite: no-writes still forbids the write.
    const readOnly = "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('SET', KEYS[1], 'x')";
    await expect(redis.eval(readOnly, [key("ro")], [])).rejects.toThrow(/Write commands are not allowed/);
    expect(await redis.exists(key("ro"))).toBe(0);
  });

  it("runs @upstash/ratelimit with EVALSHA hits after the first load", async () => {
    // A fresh requester starts with an empty SHA map, whatever Redis' script cache holds.
    const fresh = createTcpRequester(redisUrl!);
    const { requester: counting, counts } = countingRequester(fresh);
    const limiter = (limiter: ConstructorParameters<typeof Ratelimit>[0]["limiter"], name: string) =>
      new Ratelimit({ redis: new Redis(counting), limiter, prefix: key(`rl:${name}`), analytics: false });
    const run = async (rl: Ratelimit, n: number) => {
      const out: [boolean, number][] = [];
      for (let i = 0; i < n; i++) {
        const { success, remaining } = await rl.limit("user");
        out.push([success, remaining]);
      }
      return out;
    };
    try {
      const sliding = limiter(Ratelimit.slidingWindow(3, "1 h"), "sliding");
      expect(await run(sliding, 4)).toEqual([
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ]);
      expect(counts).toEqual({ eval: 1, evalsha: 4, noscript: 1 });
      expect(await run(limiter(Ratelimit.fixedWindow(2, "1 h"), "fixed"), 3)).toEqual([
        [true, 1],
        [true, 0],
        [false, 0],
      ]);
      expect(await run(limiter(Ratelimit.tokenBucket(1, "1 h", 2), "bucket"), 3)).toEqual([
        [true, 1],
        [true, 0],
        [false, 0],
      ]);
      // One fallback per distinct script, none per call.
      expect(counts).toEqual({ eval: 3, evalsha: 10, noscript: 3 });
    } finally {
      await fresh.close();
    }
  });

  it("fails fast while Redis is unreachable", async () => {
    const dead = createTcpRequester("redis://127.0.0.1:1", { commandTimeoutMs: 1000 });
    try {
      for (let i = 0; i < 2; i++) {
        const { ms, error } = await elapsed(() => new Redis(dead).get(key("x")));
        expect(String(error)).toMatch(/Redis is unavailable|ECONNREFUSED/);
        expect(ms).toBeLessThan(2000);
      }
    } finally {
      await dead.close();
    }
  });

  it("fails fast when the connection drops and reconnects when Redis is back", async () => {
    const proxy = await startProxy(new URL(redisUrl!));
    const flaky = createTcpRequester(proxy.url, { commandTimeoutMs: 1000 });
    const client = new Redis(flaky);
    try {
      expect(await client.set(key("flaky"), "1")).toBe("OK");
      await proxy.down();
      const { ms, error } = await elapsed(() => client.get(key("flaky")));
      expect(error).toBeInstanceOf(Error);
      expect(ms).toBeLessThan(2000);
      await proxy.up();
      const deadline = Date.now() + 10_000;
      let value: unknown;
      while (Date.now() < deadline) {
        value = await client.get(key("flaky")).catch(() => undefined);
        if (value !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(value).toBe(1);
    } finally {
      await flaky.close();
      await proxy.down();
    }
  });
});
