// Loads a spec from the environment and the command line. Flags win over variables, variables
// over defaults. Values are trimmed, and an empty value counts as unset: ConfigMaps often carry
// `KEY: ""` for options left at their default. Every problem is reported at once.

import { type ArgumentError, ConfigError, InvalidConfigError, type ValueSource } from "./errors.ts";
import type { Field } from "./field.ts";
import { parseFlags } from "./flags.ts";
import { type ConfigOf, type ConfigSpec, checkSpec } from "./spec.ts";

export interface LoadOptions {
  /** The environment to read (normally process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments without the program name (normally process.argv.slice(2)). */
  readonly argv: readonly string[];
}

interface RawValue {
  readonly text: string;
  readonly source: ValueSource;
  readonly flag?: string;
}

/**
 * Loads and validates a configuration. Throws InvalidConfigError listing every bad or missing
 * value and every bad argument, or HelpRequestedError when -h / -help was given.
 */
export function loadConfig<S extends ConfigSpec>(spec: S, options: LoadOptions): ConfigOf<S> {
  checkSpec(spec);
  const flags = parseFlags(spec, options.argv);
  const problems: Array<ConfigError | ArgumentError> = [...flags.problems];
  const config: Record<string, unknown> = {};

  for (const [key, field] of Object.entries(spec)) {
    const raw = pickRaw(field, options.env[field.env], flags.values.get(key));
    if (raw === undefined) {
      if (field.required) problems.push(missing(field));
      config[key] = undefined;
      continue;
    }
    const parsed = field.parse(raw.text);
    if (parsed.ok) {
      config[key] = parsed.value;
    } else {
      problems.push(
        new ConfigError({
          variable: field.env,
          value: raw.text,
          expected: parsed.expected,
          source: raw.source,
          ...(raw.flag === undefined ? {} : { flag: raw.flag }),
          secret: field.secret,
        }),
      );
    }
  }

  if (problems.length > 0) throw new InvalidConfigError(problems);
  return Object.freeze(config) as ConfigOf<S>;
}

function pickRaw(
  field: Field<unknown>,
  envValue: string | undefined,
  flagValue: { readonly raw: string; readonly flag: string } | undefined,
): RawValue | undefined {
  const fromFlag = flagValue?.raw.trim() ?? "";
  if (flagValue !== undefined && fromFlag !== "") return { text: fromFlag, source: "flag", flag: flagValue.flag };
  const fromEnv = envValue?.trim() ?? "";
  if (fromEnv !== "") return { text: fromEnv, source: "env" };
  const fallback = typeof field.default === "function" ? field.default() : field.default;
  const fromDefault = fallback?.trim() ?? "";
  if (fromDefault !== "") return { text: fromDefault, source: "default" };
  return undefined;
}

function missing(field: Field<unknown>): ConfigError {
  const flag = field.flags[0];
  const how = flag === undefined ? `set ${field.env}` : `set ${field.env} or pass -${flag}`;
  return new ConfigError({
    variable: field.env,
    expected: `required but not set (${how}: ${field.expected})`,
    source: "missing",
    secret: field.secret,
  });
}
