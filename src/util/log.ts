// What the relay and the agent proxy need of a logger: pino's loggers have it (the daemon passes
// its own), and so does the relay's small JSON-lines logger (json-lines-logger.ts), which keeps
// pino out of the relay's memory.

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
