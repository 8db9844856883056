// Command-line flags in Go's style, which upstream's manifests and scripts use:
// -name value, --name value, -name=value, --name=value; a bool flag alone means true and takes
// a value only after "=" (as in Go, `-disable-tls false` would leave "false" as an argument).

import { ArgumentError, HelpRequestedError } from "./errors.ts";
import { type ConfigSpec, HELP_FLAGS } from "./spec.ts";

export interface FlagValue {
  /** The raw value as given. */
  readonly raw: string;
  /** The flag as written, without "=value" (e.g. "--proxy-timeout"), for error messages. */
  readonly flag: string;
}

export interface ParsedFlags {
  /** Spec key → value of its last occurrence (later flags win, as in Go). */
  readonly values: ReadonlyMap<string, FlagValue>;
  /** Unknown flags, flags missing their value, stray arguments. */
  readonly problems: readonly ArgumentError[];
}

/** Parses argv against a spec's flags. Throws HelpRequestedError for -h / -help / --help. */
export function parseFlags(spec: ConfigSpec, argv: readonly string[]): ParsedFlags {
  const byFlag = new Map<string, string>();
  for (const [key, field] of Object.entries(spec)) {
    for (const flag of field.flags) byFlag.set(flag, key);
  }

  const values = new Map<string, FlagValue>();
  const problems: ArgumentError[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? "";
    if (argument === "--") {
      problems.push(...strays(argv.slice(index + 1)));
      break;
    }
    // Like Go, flag parsing stops at the first argument that is not a flag.
    if (!argument.startsWith("-") || argument === "-") {
      problems.push(...strays(argv.slice(index)));
      break;
    }

    const body = argument.startsWith("--") ? argument.slice(2) : argument.slice(1);
    const equals = body.indexOf("=");
    const name = equals < 0 ? body : body.slice(0, equals);
    const inline = equals < 0 ? undefined : body.slice(equals + 1);
    const written = argument.slice(0, argument.length - body.length) + name;
    if (name === "" || name.startsWith("-")) {
      problems.push(new ArgumentError(argument, `bad flag syntax: ${argument}`));
      continue;
    }
    if (HELP_FLAGS.has(name)) throw new HelpRequestedError();

    const key = byFlag.get(name);
    const field = key === undefined ? undefined : spec[key];
    if (key === undefined || field === undefined) {
      problems.push(new ArgumentError(argument, `unknown flag ${written}`));
      continue;
    }
    if (inline !== undefined) {
      values.set(key, { raw: inline, flag: written });
    } else if (field.kind === "bool") {
      values.set(key, { raw: "true", flag: written });
    } else {
      const next = argv[index + 1];
      if (next === undefined) {
        problems.push(new ArgumentError(argument, `flag ${written} needs a value (${field.expected})`));
        continue;
      }
      values.set(key, { raw: next, flag: written });
      index += 1;
    }
  }
  return { values, problems };
}

function strays(rest: readonly string[]): ArgumentError[] {
  return rest.map((argument) => new ArgumentError(argument, `unexpected argument ${JSON.stringify(argument)}`));
}
