import { describe } from "vitest";
import { cachesUnderTest } from "../support/caches";
import { describeLinkCacheRaces } from "../support/link-cache-races";

// The memory cache runs these in test/unit/link-cache.test.ts; here the Redis adapters, whose
// compare-then-set is a Lua script and whose reads are MGET over the wire.
for (const implementation of cachesUnderTest().filter(({ name }) => name !== "memory")) {
  if (implementation.skip)
    describe.skip(`link cache races on ${implementation.name} (${implementation.skip})`);
  else describeLinkCacheRaces(implementation.name, implementation.open);
}
