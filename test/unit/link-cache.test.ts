import { MemoryCache } from "../../src/platform/cache/memory-cache";
import { describeLinkCacheRaces } from "../support/link-cache-races";

describeLinkCacheRaces("in-process memory cache as the shared tier", async () => new MemoryCache());
