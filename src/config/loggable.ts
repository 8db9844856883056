// The loaded configuration as something safe to log: keyed by variable name (what operators
// set), durations in Go form, maps as objects, and secrets replaced by "<redacted>".

import { REDACTED } from "./errors.ts";
import type { ConfigOf, ConfigSpec } from "./spec.ts";

export function loggableConfig<S extends ConfigSpec>(spec: S, config: ConfigOf<S>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec)) {
    const value: unknown = (config as Readonly<Record<string, unknown>>)[key];
    // Unset values are left out; a set secret is shown only as being set.
    if (value === undefined || value === null) continue;
    shown[field.env] = field.secret ? REDACTED : field.show(value);
  }
  return shown;
}
