import { createHash } from "node:crypto";
import type { UpstashResponse } from "@upstash/redis";
import { errors } from "@upstash/redis";
import type { Redis } from "ioredis";
import { ReplyError } from "ioredis";

/** One command as Upstash's REST API takes it: the name, then its arguments (strings, numbers or booleans). */
export type UpstashCommand = readonly unknown[];

/** How bulk strings come back: UTF-8 text, or base64 of the raw bytes (`Upstash-Encoding: base64`). */
export type ReplyEncoding = "utf8" | "base64";

/** A Redis reply in the JSON shape Upstash's REST API uses: RESP2 nesting, integers as numbers. */
export type RedisReply = string | number | null | RedisReply[];

/** Outcome of one command: `{ result }`, or `{ error }` carrying the Redis error text ("ERR ...", "NOSCRIPT ..."). */
export type CommandResponse = UpstashResponse<RedisReply>;

/** Runs Upstash-shaped commands over one ioredis connection and answers the way Upstash's REST API would. */
export interface RedisCommandRunner {
  /** One command; a Redis error reply becomes `{ error }`, a connection failure rejects. */
  exec(command: UpstashCommand, encoding?: ReplyEncoding): Promise<CommandResponse>;
  /** Several commands in one round trip, not atomic; each gets its own `{ result }` or `{ error }`. */
  pipeline(commands: readonly UpstashCommand[], encoding?: ReplyEncoding): Promise<CommandResponse[]>;
  /**
   * Several commands in one MULTI/EXEC. Errors raised while executing stay per item; a transaction Redis
   * refuses as a whole (EXECABORT) rejects with an `UpstashError`.
   */
  multiExec(commands: readonly UpstashCommand[], encoding?: ReplyEncoding): Promise<CommandResponse[]>;
}

// Upstash's own flag; Redis 7.0 refuses the whole script over any flag it does not know.
const unsupportedScriptFlags = new Set(["allow-key-locking"]);
// Connection-state commands would leak into every other caller sharing the connection.
const refusedCommands = new Set(
  "AUTH HELLO SELECT QUIT RESET MULTI EXEC DISCARD WATCH UNWATCH MONITOR SYNC PSYNC"
    .split(" ")
    .concat("SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE".split(" ")),
);
const maxRememberedScripts = 1000;

const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex");

/**
 * Drops script shebang flags Redis 7.0 does not know (`#!lua flags=allow-key-locking`, which every
 * `@upstash/ratelimit` script starts with). A shebang left without flags becomes an empty line so Lua error
 * line numbers still match the original. Scripts without such flags come back unchanged.
 */
export function rewriteScript(script: string): string {
  const shebang = /^#!lua[ \t]([^\n]*)/.exec(script);
  const options = shebang?.[1]?.trim().split(/\s+/) ?? [];
  const flagsAt = options.findIndex((option) => option.startsWith("flags="));
  const flags = options[flagsAt]?.slice("flags=".length).split(",") ?? [];
  const kept = flags.filter((flag) => !unsupportedScriptFlags.has(flag));
  if (!shebang || kept.length === flags.length) return script;
  const rest = options.filter((_, i) => i !== flagsAt);
  if (kept.length > 0) rest.push(`flags=${kept.join(",")}`);
  const line = rest.length > 0 ? `#!lua ${rest.join(" ")}` : "";
  return line + script.slice(shebang[0].length);
}

function toArg(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  return JSON.stringify(value) ?? "";
}

function render(reply: unknown, encoding: ReplyEncoding): RedisReply {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => render(item, encoding));
  // Errors nested in arrays (a Lua table holding an error reply) have no JSON form of their own.
  const bytes = Buffer.isBuffer(reply)
    ? reply
    : Buffer.from(reply instanceof Error ? reply.message : String(reply));
  return bytes.toString(encoding);
}

const isReplyError = (error: unknown): error is Error => error instanceof ReplyError;

interface Prepared {
  name: string;
  args: string[];
  /** SCRIPT LOAD must answer with the SHA the caller computed, not the one of the rewritten script. */
  replyOverride?: string;
}

/**
 * Creates a runner over `client`, which must speak RESP2 (`protocol: 2`). Commands go out via `callBuffer` with
 * upper-case names: ioredis keys its reply transformers (HGETALL into an object, ...) by lower-case name, so
 * replies stay raw, and buffers keep binary values intact until they are rendered.
 */
export function createRedisCommandRunner(client: Redis): RedisCommandRunner {
  // SHA1 of an original script -> SHA1 of its rewritten form, so EVALSHA with the caller's SHA hits the cache.
  const rewrittenShas = new Map<string, string>();

  function loadScript(script: string): string {
    const rewritten = rewriteScript(script);
    if (rewritten !== script) {
      if (rewrittenShas.size >= maxRememberedScripts) rewrittenShas.clear();
      rewrittenShas.set(sha1(script), sha1(rewritten));
    }
    return rewritten;
  }

  function prepare(command: UpstashCommand): Prepared | { error: string } {
    const [rawName, ...rawArgs] = command;
    if (typeof rawName !== "string" || rawName === "")
      return { error: "ERR command must start with its name" };
    const name = rawName.toUpperCase();
    if (refusedCommands.has(name))
      return { error: `ERR command '${rawName}' is not supported over this API` };
    const args = rawArgs.map(toArg);
    const [first, second] = args;
    const sub = first?.toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && first !== undefined) args[0] = loadScript(first);
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && first !== undefined) {
      args[0] = rewrittenShas.get(first.toLowerCase()) ?? first;
    }
    if (name === "SCRIPT" && sub === "LOAD" && second !== undefined && args.length === 2) {
      args[1] = loadScript(second);
      return { name, args, replyOverride: sha1(second) };
    }
    if (name === "SCRIPT" && sub === "EXISTS") {
      for (let i = 1; i < args.length; i++) args[i] = rewrittenShas.get(args[i]!.toLowerCase()) ?? args[i]!;
    }
    return { name, args };
  }

  function settle(cmd: Prepared, error: unknown, reply: unknown, encoding: ReplyEncoding): CommandResponse {
    if (error) {
      if (isReplyError(error)) return { error: error.message };
      throw error;
    }
    return { result: render(cmd.replyOverride ?? reply, encoding) };
  }

  return {
    async exec(command, encoding = "utf8") {
      const cmd = prepare(command);
      if ("error" in cmd) return cmd;
      try {
        return settle(cmd, null, await client.callBuffer(cmd.name, ...cmd.args), encoding);
      } catch (error) {
        return settle(cmd, error, null, encoding);
      }
    },

    async pipeline(commands, encoding = "utf8") {
      const cmds = commands.map(prepare);
      const pipeline = client.pipeline();
      for (const cmd of cmds) if (!("error" in cmd)) pipeline.callBuffer(cmd.name, ...cmd.args);
      const replies = pipeline.length > 0 ? ((await pipeline.exec()) ?? []) : [];
      let next = 0;
      return cmds.map((cmd) => {
        if ("error" in cmd) return cmd;
        const [error, reply] = replies[next++] ?? [new Error("Pipeline returned too few replies")];
        return settle(cmd, error, reply, encoding);
      });
    },

    async multiExec(commands, encoding = "utf8") {
      const cmds = commands.map(prepare);
      const invalid = cmds.find((cmd) => "error" in cmd);
      if (invalid && "error" in invalid) {
        throw new errors.UpstashError(
          `EXECABORT Transaction discarded because of previous errors: ${invalid.error}`,
        );
      }
      const multi = client.multi();
      for (const cmd of cmds as Prepared[]) multi.callBuffer(cmd.name, ...cmd.args);
      let replies: [Error | null, unknown][] | null;
      try {
        replies = await multi.exec();
      } catch (error) {
        if (!isReplyError(error)) throw error;
        // ioredis keeps the reasons for EXECABORT (the commands refused while queueing) on the error.
        const causes = (error as Error & { previousErrors?: Error[] }).previousErrors ?? [];
        const detail = causes.length > 0 ? `: ${causes.map((cause) => cause.message).join("; ")}` : "";
        throw new errors.UpstashError(`${error.message.replace(/\.$/, "")}${detail}`);
      }
      if (!replies) throw new errors.UpstashError("EXECABORT Transaction aborted");
      return (cmds as Prepared[]).map((cmd, i) => {
        const [error, reply] = replies[i] ?? [new Error("Transaction returned too few replies")];
        return settle(cmd, error, reply, encoding);
      });
    },
  };
}
