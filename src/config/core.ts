// The settings machinery without the daemon's own settings: fields, flags, loading, rendering,
// the fields several binaries share. A second face on purpose (index.ts adds the daemon's spec):
// peerpod-relay loads only this, so it carries no line of the daemon's settings it never reads.

export {
  ArgumentError,
  ConfigError,
  type ConfigErrorDetails,
  HelpRequestedError,
  InvalidConfigError,
  REDACTED,
  type ValueSource,
} from "./errors.ts";
export type { Field, FieldKind, FieldOptions, FieldValue, Parsed } from "./field.ts";
export {
  boolField,
  type DurationFieldOptions,
  durationField,
  type EnumFieldOptions,
  enumField,
  type IntFieldOptions,
  intField,
  listField,
  mapField,
  portField,
  stringField,
} from "./field-kinds.ts";
export { type FlagValue, type ParsedFlags, parseFlags } from "./flags.ts";
export {
  formatGoDuration,
  GO_DURATION_EXPECTED,
  GoDurationError,
  parseGoDuration,
  parseGoDurationNanos,
} from "./go-duration.ts";
export { type LoadOptions, loadConfig } from "./load.ts";
export { loggableConfig } from "./loggable.ts";
export { renderFlagHelp, renderSpecMarkdown } from "./render.ts";
export { hypervisorSocketField, LOG_LEVELS, logLevelField, podsDirField } from "./shared-fields.ts";
export { type ConfigOf, type ConfigSpec, checkSpec } from "./spec.ts";
