import { parseArgs } from "node:util";
import { z } from "zod";
import { instant } from "../analytics/stats-schemas";
import { scopeSchema, scopes } from "../auth/scopes";
import { type Config, ConfigError, loadConfig } from "../config";
import { errorMessage } from "../platform/log/error-message";
import type { Services } from "../services";
import type { DeadLetterCommand } from "./admin-dead-letters";

const usage = `Usage: npm run admin -- <command> [options]

  workspace create --name NAME [--json]
      Creates a workspace and its first API key, holding every scope. The key is shown once.
  keys create --workspace ID --name NAME --scopes SCOPE,… [--expires-at ISO-8601] [--json]
  keys revoke --workspace ID --id KEY_ID [--json]
  import FILE --workspace ID [--format ndjson|csv] [--json]
      Bulk-creates links from an NDJSON or CSV file (format from the extension by default), as
      POST /links/bulk does: one result line per input line on stdout, progress on stderr.
  export --workspace ID --from ISO-8601 --to ISO-8601 [--link ID] [--format ndjson|csv] [--out FILE]
      Writes the raw clicks in [from, to) to FILE (or stdout), as GET /clicks/export does.
  dead-letters list [--reason REASON] [--limit N] [--json]
      The click events the Node consumer parked in the dead-letter stream (Redis), oldest first:
      one line each on stdout (--json: NDJSON), then the count per reason on stderr.
  dead-letters replay [--reason REASON] [--ids ID,…] [--dry-run] [--json]
      Puts the selected parked events (--ids: dead-letter entry ids, as list shows them) back on
      the click stream and only then deletes them from the dead-letter stream; a crash in between
      at worst replays an event twice, which the consumer's idempotent ingest stores once.
      Payloads that are not a valid click event stay parked. One line per entry on stdout,
      progress and summary on stderr. --dry-run changes nothing.
      Reasons: too-many-deliveries, rejected-by-database, invalid-json, invalid-event.

Scopes: ${scopes.join(", ")}
Database: DATABASE_URL when set, else the embedded PGlite in PGLITE_DATA_DIR (as npm start).
dead-letters: Redis only (UPSTASH_REDIS_REST_URL + _TOKEN, else REDIS_URL; CLICK_STREAM_KEY); no database.
Exit status: 0 done, 1 failed (for import: any line not created; for dead-letters replay: any
selected entry not replayed), 2 bad usage (and dead-letters without Redis).`;

/** Bad usage: one line, exit 2. */
class UsageError extends Error {}

const options = {
  name: { type: "string" },
  workspace: { type: "string" },
  id: { type: "string" },
  scopes: { type: "string" },
  "expires-at": { type: "string" },
  format: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  link: { type: "string" },
  out: { type: "string" },
  reason: { type: "string" },
  limit: { type: "string" },
  ids: { type: "string" },
  "dry-run": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>["values"];

function required<T>(schema: z.ZodType<T>, flag: string, value: unknown): T {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

const nameSchema = z.string().trim().min(1).max(100);
const scopesSchema = z
  .string()
  .transform((list) => list.split(",").map((scope) => scope.trim()))
  .pipe(z.array(scopeSchema).min(1))
  .transform((list) => [...new Set(list)]);
const futureDate = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine((date) => date.getTime() > Date.now(), "must be in the future");

const formatSchema = z.enum(["ndjson", "csv"]);
// Any reason a parked entry carries (the consumer's, or an older version's), but a sane one.
const reasonSchema = z.string().regex(/^[a-z0-9-]{1,64}$/, "must be a reason such as too-many-deliveries");
const limitSchema = z.coerce.number().int().min(1).max(1_000_000);
const streamIdsSchema = z
  .string()
  .transform((list) => list.split(",").map((id) => id.trim()))
  .pipe(
    z
      .array(z.string().regex(/^\d{1,20}-\d{1,20}$/, "must be stream entry ids like 1764288000000-0"))
      .min(1)
      .max(10_000),
  )
  .transform((list) => [...new Set(list)]);

/** A dead-letters command: it needs Redis only, so it runs without opening the database. */
interface RedisPlan {
  redis: (config: Config) => Promise<number>;
}

function planDeadLetters(command: string, values: Values): RedisPlan {
  const optional = <T>(schema: z.ZodType<T>, flag: string, value: unknown) =>
    value === undefined ? undefined : required(schema, flag, value);
  const reason = optional(reasonSchema, "--reason", values.reason);
  const { json } = values;
  const io = {
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
  };
  // Loaded only when run, like the database drivers: bad usage answers without them.
  const run = (planned: DeadLetterCommand): RedisPlan => ({
    redis: async (config) => (await import("./admin-dead-letters")).runDeadLetterCommand(config, planned, io),
  });
  if (command === "dead-letters list") {
    for (const flag of ["ids", "dry-run"] as const)
      if (values[flag]) throw new UsageError(`--${flag} is for dead-letters replay`);
    return run({ command: "list", reason, json, limit: optional(limitSchema, "--limit", values.limit) });
  }
  if (command === "dead-letters replay") {
    if (values.limit !== undefined) throw new UsageError("--limit is for dead-letters list");
    const ids = optional(streamIdsSchema, "--ids", values.ids);
    return run({ command: "replay", reason, json, dryRun: values["dry-run"], ...(ids ? { ids } : {}) });
  }
  throw new UsageError(`unknown command "${command}"`);
}

/** A command checked against its flags before anything is opened, so bad usage costs nothing. */
function plan(
  command: string,
  values: Values,
  args: string[],
): ((services: Services) => Promise<Record<string, unknown>>) | RedisPlan {
  if (command.startsWith("dead-letters")) return planDeadLetters(command, values);
  switch (command) {
    case "import": {
      const workspaceId = required(z.uuid(), "--workspace", values.workspace);
      const file = required(z.string().min(1), "FILE", args.length === 1 ? args[0] : undefined);
      const format = required(
        formatSchema,
        "--format",
        values.format ?? (/\.csv$/i.test(file) ? "csv" : "ndjson"),
      );
      return async (services) => {
        if (!(await services.workspaces.findById(workspaceId)))
          throw new Error(`no workspace ${workspaceId}`);
        return (await import("./admin-transfer")).importFile(services, { workspaceId, file, format });
      };
    }
    case "export": {
      const workspaceId = required(z.uuid(), "--workspace", values.workspace);
      const from = required(instant, "--from", values.from);
      const to = required(instant, "--to", values.to);
      if (from >= to) throw new UsageError("--to must be after --from");
      const linkId = values.link === undefined ? undefined : required(z.uuid(), "--link", values.link);
      const format = required(formatSchema, "--format", values.format ?? "ndjson");
      return async (services) => {
        if (!(await services.workspaces.findById(workspaceId)))
          throw new Error(`no workspace ${workspaceId}`);
        const filter = { workspaceId, from, to, ...(linkId ? { linkId } : {}) };
        return (await import("./admin-transfer")).exportFile(services, {
          ...filter,
          format,
          out: values.out,
        });
      };
    }
    case "workspace create": {
      const name = required(nameSchema, "--name", values.name);
      return async ({ workspaces, apiKeys }) => {
        const workspace = await workspaces.create({ name });
        const { key, record } = await apiKeys.create(workspace.id, {
          name: "bootstrap",
          scopes: [...scopes],
        });
        return { workspace, apiKey: { ...record, key } };
      };
    }
    case "keys create": {
      const workspaceId = required(z.uuid(), "--workspace", values.workspace);
      const name = required(nameSchema, "--name", values.name);
      const keyScopes = required(scopesSchema, "--scopes", values.scopes);
      const expiresAt = values["expires-at"]
        ? required(futureDate, "--expires-at", values["expires-at"])
        : null;
      return async ({ workspaces, apiKeys }) => {
        if (!(await workspaces.findById(workspaceId))) throw new Error(`no workspace ${workspaceId}`);
        const { key, record } = await apiKeys.create(workspaceId, { name, scopes: keyScopes, expiresAt });
        return { apiKey: { ...record, key } };
      };
    }
    case "keys revoke": {
      const workspaceId = required(z.uuid(), "--workspace", values.workspace);
      const id = required(z.uuid(), "--id", values.id);
      return async ({ apiKeys }) => {
        const revoked = await apiKeys.revoke(workspaceId, id);
        if (!revoked) throw new Error(`no API key ${id} in workspace ${workspaceId}`);
        return { revoked };
      };
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "missing command");
  }
}

function describe(result: Record<string, unknown>): string {
  const {
    workspace,
    apiKey,
    revoked,
    import: imported,
    export: exported,
  } = result as {
    workspace?: { id: string; name: string };
    apiKey?: { id: string; scopes: string[]; key: string };
    revoked?: { id: string; prefix: string };
    import?: { imported: number; failed: number; aborted: string | null };
    export?: { rows: number; file: string | null };
  };
  if (revoked) return `Revoked API key ${revoked.id} (${revoked.prefix}…).`;
  if (imported) {
    const stopped = imported.aborted ? ` Stopped: ${imported.aborted}` : "";
    return `Imported ${imported.imported} links; ${imported.failed} lines failed (see their result lines).${stopped}`;
  }
  if (exported) return `Exported ${exported.rows} clicks${exported.file ? ` to ${exported.file}` : ""}.`;
  const lines = workspace ? [`Workspace "${workspace.name}" created: ${workspace.id}`] : [];
  if (apiKey) {
    lines.push(`API key ${apiKey.id} (scopes: ${apiKey.scopes.join(", ")}) — shown once, store it now:`);
    lines.push(apiKey.key);
  }
  return lines.join("\n");
}

/**
 * One line for an operator: the driver's own words (drizzle's wrapper message would carry the
 * query's parameters), with a hint for the common case.
 */
function explain(error: unknown): string {
  const root = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = errorMessage(root).split("\n")[0] ?? "";
  const code = (root as { code?: unknown } | null | undefined)?.code;
  if (code === "42P01") return `${message} (is the database migrated? run: npm run db:migrate)`;
  return message || "unknown error";
}

async function main(argv: string[]): Promise<number> {
  let run: ReturnType<typeof plan>;
  let values: Values;
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    values = parsed.values;
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const [verb, ...args] = parsed.positionals;
    // import takes its file as an argument; every other command is its words.
    run = verb === "import" ? plan(verb, values, args) : plan(parsed.positionals.join(" "), values, []);
  } catch (error) {
    if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
      throw error;
    }
    console.error(`edgelink admin: ${(error as Error).message.split(". ")[0]} (see npm run admin -- --help)`);
    return 2;
  }

  const config = loadConfig(process.env);
  if (typeof run !== "function") return run.redis(config);
  // Loaded only now, so --help and bad usage answer without loading database drivers.
  const [{ createLogger }, node, { createServices }] = await Promise.all([
    import("../platform/log/logger"),
    import("../platform/node/node-platform"),
    import("../services"),
  ]);
  // Diagnostics go to stderr, so stdout carries only the result (and the key).
  const logger = createLogger({ level: "warn", write: (line) => process.stderr.write(`${line}\n`) });
  const platform = await node.createNodePlatform(config, logger).catch((error: unknown) => {
    throw new Error(`could not open the database: ${explain(error)}`);
  });
  try {
    const services = createServices(platform);
    const { failed, ...result } = await run(services);
    const text = values.json ? JSON.stringify(result) : describe(result);
    // import and export stream their data on stdout; their summary goes with the progress, on stderr.
    if ("import" in result || "export" in result) console.error(text);
    else console.log(text);
    return failed ? 1 : 0;
  } finally {
    await Promise.allSettled([platform.db.close(), platform.cache.close()]);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof ConfigError ? error.message : explain(error);
    console.error(`edgelink admin: ${message}`);
    process.exit(1);
  },
);
