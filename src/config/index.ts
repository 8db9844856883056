// Configuration: typed settings from environment variables and Go-style flags.

export {
  GO_DURATION_EXPECTED,
  GoDurationError,
  formatGoDuration,
  parseGoDuration,
  parseGoDurationNanos,
} from "./go-duration.ts";
export {
  ArgumentError,
  ConfigError,
  HelpRequestedError,
  InvalidConfigError,
  REDACTED,
  type ConfigErrorDetails,
  type ValueSource,
} from "./errors.ts";
export type { Field, FieldKind, FieldOptions, FieldValue, Parsed } from "./field.ts";
export {
  boolField,
  durationField,
  enumField,
  intField,
  listField,
  mapField,
  portField,
  stringField,
  type DurationFieldOptions,
  type EnumFieldOptions,
  type IntFieldOptions,
} from "./field-kinds.ts";
export { checkSpec, type ConfigOf, type ConfigSpec } from "./spec.ts";
export { parseFlags, type FlagValue, type ParsedFlags } from "./flags.ts";
export { loadConfig, type LoadOptions } from "./load.ts";
export { renderFlagHelp, renderSpecMarkdown } from "./render.ts";
export { loggableConfig } from "./loggable.ts";
export { LOG_LEVELS, daemonConfigSpec, loadDaemonConfig, type DaemonConfig } from "./daemon-config.ts";
