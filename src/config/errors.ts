// Configuration errors. Each names the variable (and flag) at fault, the value found and what
// was expected, so one line is enough to fix a ConfigMap. Secret values never appear: not in the
// message and not as a property, since loggers serialise an error's own properties.

/** Shown in place of a secret's value. */
export const REDACTED = "<redacted>";

/** Where a value came from. */
export type ValueSource = "env" | "flag" | "default";

export interface ConfigErrorDetails {
  /** The environment variable name, which identifies the setting even when a flag set it. */
  readonly variable: string;
  /** The raw value; ignored (not kept) when `secret` is true. Absent for a missing value. */
  readonly value?: string;
  /** What would have been accepted, e.g. "a Go duration such as 5m or 300s". */
  readonly expected: string;
  /** Where the value came from; "missing" for a required setting with no value. */
  readonly source: ValueSource | "missing";
  /** The flag as the user wrote it (e.g. "-proxy-timeout"), when a flag supplied the value. */
  readonly flag?: string;
  readonly secret?: boolean;
}

/** One setting with a bad or missing value. */
export class ConfigError extends Error {
  readonly variable: string;
  /** The raw value, or undefined when it was secret or missing. */
  readonly value: string | undefined;
  readonly expected: string;
  readonly source: ValueSource | "missing";
  readonly flag: string | undefined;
  readonly secret: boolean;

  constructor(details: ConfigErrorDetails) {
    super(describe(details));
    this.name = "ConfigError";
    this.variable = details.variable;
    this.secret = details.secret === true;
    this.value = this.secret ? undefined : details.value;
    this.expected = details.expected;
    this.source = details.source;
    this.flag = details.flag;
  }
}

function describe(details: ConfigErrorDetails): string {
  if (details.source === "missing") return `${details.variable}: ${details.expected}`;
  const shown = details.secret === true ? REDACTED : JSON.stringify(details.value ?? "");
  switch (details.source) {
    case "env":
      return `${details.variable}=${shown}: expected ${details.expected}`;
    case "flag":
      return `${details.flag ?? details.variable}=${shown} (${details.variable}): expected ${details.expected}`;
    case "default":
      return `${details.variable} default ${shown}: expected ${details.expected}`;
  }
}

/** A command-line argument that is not a known flag, lacks its value, or is not a flag at all. */
export class ArgumentError extends Error {
  /** The offending argument as written. */
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(message);
    this.name = "ArgumentError";
    this.argument = argument;
  }
}

/** Every problem found while loading a configuration, one line each in the message. */
export class InvalidConfigError extends AggregateError {
  declare errors: Array<ConfigError | ArgumentError>;

  constructor(problems: ReadonlyArray<ConfigError | ArgumentError>) {
    const noun = problems.length === 1 ? "problem" : "problems";
    const lines = problems.map((problem) => `  ${problem.message}`).join("\n");
    super(problems, `invalid configuration (${problems.length} ${noun}):\n${lines}`);
    this.name = "InvalidConfigError";
  }
}

/** -h, -help or --help was given: the caller should print usage and exit. */
export class HelpRequestedError extends Error {
  constructor() {
    super("help requested");
    this.name = "HelpRequestedError";
  }
}
