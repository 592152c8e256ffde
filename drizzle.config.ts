import { defineConfig } from "drizzle-kit";

// Generation needs no database; `npm run db:migrate` applies to DATABASE_URL via our own migrator.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./db/migrations",
  strict: true,
  verbose: true,
});
