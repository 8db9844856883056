import pino, { type Logger } from "pino";
import { SECRET_FIELD_NAMES } from "./log.ts";

/** Paths of log fields that may carry secrets; pino replaces their values. */
const REDACT = [...SECRET_FIELD_NAMES.map((name) => `*.${name}`), "userData", "key", "password"];

/** JSON logs on stderr (stdout stays free for tools), secrets redacted. */
export function createLogger(level: string, name: string): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT, censor: "<redacted>" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
