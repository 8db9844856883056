// Compatibility with the Go cloud-api-adaptor's configuration: its variables and flags, and
// what this daemon does with each (see docs/coming-from-go.md).

export {
  UPSTREAM_SETTINGS,
  upstreamSettingsFor,
  type UpstreamHandling,
  type UpstreamProvider,
  type UpstreamSetting,
} from "./upstream-settings.ts";
export {
  checkUpstreamSettings,
  isUpstreamDefault,
  type UpstreamCheckOptions,
  type UpstreamFinding,
} from "./check-upstream.ts";
export { adaptUpstreamFlags, UPSTREAM_FLAGS, type AdaptedArguments, type UpstreamFlag } from "./upstream-flags.ts";
export { loadDaemonSettings, type DaemonSettings } from "./load-daemon-settings.ts";
