import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/chaos/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Suites share one database per run; files run one after another so they never race on it.
          fileParallelism: false,
        },
      },
      {
        // The deployable wrangler.toml itself (entry, compatibility date and flags, [vars]), with
        // bindings on top: the stand-ins' when the globalSetup started them, else a database nobody
        // answers for (127.0.0.1:1, so no query leaves the machine) and the per-isolate memory cache.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                LOG_LEVEL: "error",
                SHORT_DOMAINS: "edgelink.test,localhost",
                DATABASE_URL: "postgres://edgelink@db.invalid/edgelink",
                NEON_FETCH_ENDPOINT: "http://127.0.0.1:1/sql",
                ...inject("edgeServices"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["test/workers/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
