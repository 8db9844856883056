// The daemon's configuration as an upstream deployment hands it over: upstream's flags turned
// into their variables (or warnings), our own settings loaded and validated, and every
// upstream setting we do not implement reported. The binary and the tests share this path.

import { type DaemonConfig, daemonConfigSpec, loadDaemonConfig } from "../daemon-config.ts";
import type { LoadOptions } from "../load.ts";
import { checkUpstreamSettings, type UpstreamFinding } from "./check-upstream.ts";
import { adaptUpstreamFlags } from "./upstream-flags.ts";

export interface DaemonSettings {
  readonly config: DaemonConfig;
  /** The environment with upstream flags applied: what providers read their settings from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Warnings to log at start-up, and refusals that must stop it. */
  readonly findings: readonly UpstreamFinding[];
}

/** Throws what loadDaemonConfig throws (InvalidConfigError, HelpRequestedError). */
export function loadDaemonSettings(options: LoadOptions): DaemonSettings {
  const adapted = adaptUpstreamFlags(options.argv, options.env.CLOUD_PROVIDER?.trim() || "local", daemonConfigSpec);
  const env = { ...options.env, ...adapted.env };
  const config = loadDaemonConfig({ env, argv: adapted.argv });
  const findings = [
    ...adapted.findings,
    ...checkUpstreamSettings({ env, provider: config.cloudProvider, developmentMode: config.disableTls }),
  ];
  return { config, env, findings };
}
