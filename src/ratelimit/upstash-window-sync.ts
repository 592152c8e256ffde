import type { Redis } from "@upstash/redis";
import type { RateLimitPolicy } from "./rate-limiter";
import { windowKey } from "./upstash-rate-limiter";
import type { SharedCounts, WindowSync } from "./window-sync";

/**
 * KEYS come in pairs (a window's counter, the previous window's); ARGV[1] is the TTL, ARGV[n + 1]
 * the count for pair n. One script call instead of three commands per client: a sync of 10 000
 * clients would otherwise be 30 000 commands to build, send and parse every interval.
 */
const pushScript = `
local ttl = tonumber(ARGV[1])
local totals = {}
for i = 1, #KEYS, 2 do
  local current = redis.call("INCRBY", KEYS[i], ARGV[(i + 1) / 2 + 1])
  redis.call("PEXPIRE", KEYS[i], ttl)
  totals[#totals + 1] = current
  totals[#totals + 1] = tonumber(redis.call("GET", KEYS[i + 1]) or "0")
end
return totals
`;

/** Increments per script call; Redis runs each atomically, so none should hold it for long. */
const chunkSize = 500;

/**
 * {@link WindowSync} over the `@upstash/redis` client, on the very keys `Ratelimit.slidingWindow`
 * reads (`el:rl:<policy>:<identifier>:<window>`): per client INCRBY + PEXPIRE (the TTL upstash's
 * script sets) + GET of the previous window, in a small Lua script sent by SHA. The chunks go out
 * together, so a push costs about one round trip however many clients it carries.
 *
 * @example
 * const sync = createUpstashWindowSync(redis, policies.redirect);
 * await sync.push([{ identifier: "203.0.113.7", window: 29_000_000, count: 12 }]);
 */
export function createUpstashWindowSync(redis: Redis, policy: RateLimitPolicy): WindowSync {
  const script = redis.createScript<number[]>(pushScript);
  // Long enough for a window to serve as the next one's previous window, as upstash's script sets.
  const ttlMs = policy.windowMs * 2 + 1_000;
  return {
    async push(increments) {
      const chunks: Promise<SharedCounts[]>[] = [];
      for (let start = 0; start < increments.length; start += chunkSize) {
        const chunk = increments.slice(start, start + chunkSize);
        const keys = chunk.flatMap(({ identifier, window }) => [
          windowKey(policy.name, identifier, window),
          windowKey(policy.name, identifier, window - 1),
        ]);
        const args = [String(ttlMs), ...chunk.map(({ count }) => String(count))];
        chunks.push(
          script.exec(keys, args).then((totals) =>
            chunk.map((_, i) => ({
              current: Number(totals[2 * i] ?? 0),
              previous: Number(totals[2 * i + 1] ?? 0),
            })),
          ),
        );
      }
      return (await Promise.all(chunks)).flat();
    },
  };
}
