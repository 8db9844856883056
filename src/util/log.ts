// What the relay and the agent proxy need of a logger: pino's loggers have it (the daemon passes
// its own), and so does the relay's small JSON-lines logger (json-lines-logger.ts), which keeps
// pino out of the relay's memory.

/** Field names whose values may be secrets: both loggers redact them (pino one level down, and
 * userData, key and password at the top level too; the JSON-lines logger at any depth). */
export const SECRET_FIELD_NAMES = [
  "password",
  "secret",
  "key",
  "token",
  "userData",
  "clientSecret",
  "privateKey",
] as const;

export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

export interface Log {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /** A logger adding these fields to every line. */
  child(bindings: Record<string, unknown>): Log;
  /** Writes out what is buffered (before the process exits). */
  flush(): void;
}
