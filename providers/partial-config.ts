// A provider's settings loaded for checks that read further: Azure and GCP check the raw text
// of some variables beyond what their types say, and report every problem in one run.
import {
  type ArgumentError,
  ConfigError,
  type ConfigOf,
  type ConfigSpec,
  InvalidConfigError,
  loadConfig,
} from "../src/config/index.ts";

/** A provider's settings as loaded so far, for checks that read further (one run still reports
 * every problem): the typed settings (undefined when some failed), the problems found, to which
 * the checks add theirs, and the raw text of a variable. */
export interface PartialConfig<S extends ConfigSpec> {
  readonly config: ConfigOf<S> | undefined;
  readonly problems: Array<ConfigError | ArgumentError>;
  /** The variable's trimmed text; undefined when unset or empty. */
  readonly raw: (variable: string) => string | undefined;
  /** The variable's text; a problem is recorded when it is set and does not match `pattern`. */
  readonly checked: (variable: string, pattern: RegExp, expected: string) => string | undefined;
  /** The variable's text parsed; a problem is recorded when it is set and `parse` refuses it. */
  readonly parsed: <T>(variable: string, parse: (text: string) => T | undefined, expected: string) => T | undefined;
}

/** Loads a spec from the environment alone, keeping its problems instead of throwing them. */
export function loadConfigPartly<S extends ConfigSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
): PartialConfig<S> {
  const problems: Array<ConfigError | ArgumentError> = [];
  let config: ConfigOf<S> | undefined;
  try {
    config = loadConfig(spec, { env, argv: [] });
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    problems.push(...err.errors);
  }
  const raw = (variable: string): string | undefined => {
    const v = env[variable]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const refuse = (variable: string, value: string, expected: string) =>
    problems.push(new ConfigError({ variable, value, expected, source: "env" }));
  const checked = (variable: string, pattern: RegExp, expected: string): string | undefined => {
    const text = raw(variable);
    if (text !== undefined && !pattern.test(text)) refuse(variable, text, expected);
    return text;
  };
  const parsed = <T>(variable: string, parse: (text: string) => T | undefined, expected: string): T | undefined => {
    const text = raw(variable);
    const value = text === undefined ? undefined : parse(text);
    if (text !== undefined && value === undefined) refuse(variable, text, expected);
    return value;
  };
  return { config, problems, raw, checked, parsed };
}
