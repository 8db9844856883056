// Settings more than one binary reads under the same name, so one peer-pods-cm configures them
// all: declared once here and placed in each binary's spec.
import { enumField, stringField } from "./field-kinds.ts";

/** pino's level names. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const logLevelField = enumField({
  env: "LOG_LEVEL",
  flag: "log-level",
  default: "info",
  values: LOG_LEVELS,
  description: "Log level: fatal, error, warn, info, debug, trace or silent.",
});

/** Upstream: -socket / REMOTE_HYPERVISOR_ENDPOINT. */
export const hypervisorSocketField = stringField({
  env: "REMOTE_HYPERVISOR_ENDPOINT",
  flag: "socket",
  default: "/run/peerpod/hypervisor.sock",
  description: "Unix socket where the Kata shim reaches the Hypervisor service.",
});

/** Upstream: -pods-dir / PODS_DIR. */
export const podsDirField = stringField({
  env: "PODS_DIR",
  flag: "pods-dir",
  default: "/run/peerpod/pods",
  description: "Directory holding each pod's agent socket (<dir>/<sandbox-id>/agent.ttrpc).",
});
