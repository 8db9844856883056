// Configuration: typed settings from environment variables and Go-style flags.

export * from "./core.ts";
export { type DaemonConfig, daemonConfigSpec, loadDaemonConfig } from "./daemon-config.ts";
