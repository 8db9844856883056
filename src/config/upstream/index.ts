// Compatibility with the Go cloud-api-adaptor's configuration: its variables and flags, and
// what this daemon does with each (see docs/coming-from-go.md).

export {
  checkUpstreamSettings,
  isUpstreamDefault,
  type UpstreamCheckOptions,
  type UpstreamFinding,
} from "./check-upstream.ts";
export { type DaemonSettings, loadDaemonSettings } from "./load-daemon-settings.ts";
export { renderUpstreamTable } from "./render-table.ts";
export { type AdaptedArguments, adaptUpstreamFlags, UPSTREAM_FLAGS, type UpstreamFlag } from "./upstream-flags.ts";
export {
  UPSTREAM_SETTINGS,
  type UpstreamHandling,
  type UpstreamProvider,
  type UpstreamSetting,
  upstreamSettingsFor,
} from "./upstream-settings.ts";
