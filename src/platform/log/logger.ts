export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Field names whose values never reach a log line, wherever they are nested. */
const secretField =
  /authorization|password|secret|token|api[-_]?key|cookie|connection[-_]?string|(database|redis|replica)[-_]?urls?/i;
/** Credentials inside any URL-looking string (`scheme://user:pass@host`). */
const urlCredentials = /(\w+:\/\/)[^/\s:@]+:[^/\s@]+@/g;

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.replace(urlCredentials, "$1[redacted]@");
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = secretField.test(key) ? "[redacted]" : redact(inner, depth + 1);
  }
  return out;
}

/**
 * Structured JSON logs, one object per line, on any runtime (`console` is the only sink both
 * workerd and Node have). Secrets are redacted by field name before serialisation.
 *
 * @example
 * const log = createLogger({ level: "info", base: { service: "edgelink" } });
 * log.child({ requestId }).warn("redis slow", { latencyMs: 812 });
 */
export function createLogger(options: {
  level: LogLevel;
  base?: LogFields;
  write?: (line: string, level: LogLevel) => void;
}): Logger {
  const threshold = rank[options.level];
  const write =
    options.write ??
    ((line: string, level: LogLevel) => (level === "error" ? console.error(line) : console.log(line)));
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields) => {
      if (rank[level] < threshold) return;
      const entry = {
        time: new Date().toISOString(),
        level,
        msg: message,
        ...base,
        ...(redact(fields) as LogFields),
      };
      write(JSON.stringify(entry), level);
    };
    return {
      debug: (message, fields) => emit("debug", message, fields),
      info: (message, fields) => emit("info", message, fields),
      warn: (message, fields) => emit("warn", message, fields),
      error: (message, fields) => emit("error", message, fields),
      child: (fields) => make({ ...base, ...(redact(fields) as LogFields) }),
    };
  };
  return make(options.base ?? {});
}
