// The relay's logger: one JSON object per line on stderr, with pino's field names (level as a
// label, time, pid, hostname, name, the child's fields, the call's fields, msg) so one log
// pipeline reads the relay and the daemon alike. Not pino: pino and what it loads (worker
// threads for transports, its serializers and stream) cost the relay ~5 MiB idle and ~2 MiB
// with 200 sandboxes (bench:relay), and the relay logs a few lines per sandbox, not per call.
// Lines are written synchronously (stderr is a file or a pipe), so nothing waits in a buffer
// when the process exits.
import { hostname } from "node:os";
import { type Log, type LogFn, SECRET_FIELD_NAMES } from "./log.ts";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LevelName = keyof typeof LEVELS;

/** Redacted at any depth. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(SECRET_FIELD_NAMES);
const REDACTED = "<redacted>";

export type LineWriter = (line: string) => void;

/** `level`: fatal, error, warn, info, debug, trace or silent. */
export function createJsonLinesLogger(
  level: string,
  name: string,
  write: LineWriter = (line) => void process.stderr.write(line),
): Log {
  const threshold = level === "silent" ? Number.POSITIVE_INFINITY : (LEVELS[level as LevelName] ?? LEVELS.info);
  const base = { pid: process.pid, hostname: hostname(), name };
  return makeLogger(base, threshold, write);
}

function makeLogger(bindings: Record<string, unknown>, threshold: number, write: LineWriter): Log {
  const at = (label: LevelName): LogFn => {
    if (LEVELS[label] < threshold) return () => {};
    return (fieldsOrMsg: object | string, msg?: string) => {
      const fields = typeof fieldsOrMsg === "string" ? {} : fieldsOrMsg;
      const text = typeof fieldsOrMsg === "string" ? fieldsOrMsg : msg;
      write(`${line({ level: label, time: new Date().toISOString(), ...bindings, ...fields, msg: text })}\n`);
    };
  };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
    child: (more) => makeLogger({ ...bindings, ...more }, threshold, write),
    flush: () => {},
  };
}

function line(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record, replacer);
  } catch (err) {
    // A field JSON cannot hold (a cycle, a BigInt): the line still says what happened.
    return JSON.stringify({ level: record.level, time: record.time, msg: record.msg, logError: String(err) });
  }
}

function replacer(this: unknown, field: string, value: unknown): unknown {
  if (field !== "" && SECRET_FIELDS.has(field) && value !== undefined) return REDACTED;
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}
