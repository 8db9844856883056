// A configuration spec: named fields. The loaded configuration's type is derived from it, so
// `loadConfig(spec, …).proxyTimeoutMs` is a number without any hand-written interface.

import type { Field } from "./field.ts";

export type ConfigSpec = Readonly<Record<string, Field<unknown>>>;

/** The typed configuration a spec loads into. */
export type ConfigOf<S extends ConfigSpec> = {
  readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never;
};

// Go's flag package treats these as a request for usage; no field may take them.
export const HELP_FLAGS: ReadonlySet<string> = new Set(["h", "help"]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FLAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks a spec for mistakes in its own definition (duplicate names, malformed names).
 * These are programming errors, so they throw TypeError rather than a ConfigError.
 */
export function checkSpec(spec: ConfigSpec): void {
  const envs = new Map<string, string>();
  const flags = new Map<string, string>();
  for (const [key, field] of Object.entries(spec)) {
    if (!ENV_NAME.test(field.env))
      throw new TypeError(`config field ${key}: bad variable name ${JSON.stringify(field.env)}`);
    const envOwner = envs.get(field.env);
    if (envOwner !== undefined) throw new TypeError(`config fields ${envOwner} and ${key} share variable ${field.env}`);
    envs.set(field.env, key);
    if (field.required && field.default !== undefined) {
      throw new TypeError(`config field ${key}: a required field cannot have a default`);
    }
    for (const flag of field.flags) {
      if (!FLAG_NAME.test(flag)) throw new TypeError(`config field ${key}: bad flag name ${JSON.stringify(flag)}`);
      if (HELP_FLAGS.has(flag)) throw new TypeError(`config field ${key}: flag -${flag} is reserved for help`);
      const flagOwner = flags.get(flag);
      if (flagOwner !== undefined) throw new TypeError(`config fields ${flagOwner} and ${key} share flag -${flag}`);
      flags.set(flag, key);
    }
  }
}
