// peerpod-relay's settings. The socket paths and PROXY_TIMEOUT share their names with the
// control plane's, so one peer-pods-cm configures both DaemonSets.
import {
  type ConfigOf,
  durationField,
  hypervisorSocketField,
  type LoadOptions,
  loadConfig,
  logLevelField,
  podsDirField,
  stringField,
} from "../config/core.ts";

export const DEFAULT_RELAY_SOCKET = "/run/peerpod/relay.sock";

export const relayConfigSpec = Object.freeze({
  socketPath: hypervisorSocketField,
  podsDir: podsDirField,
  relaySocket: stringField({
    env: "RELAY_SOCKET",
    flag: "relay-socket",
    default: DEFAULT_RELAY_SOCKET,
    description: "The relay's control socket (root only), where cloud-api-adaptor drives it.",
  }),
  proxyTimeoutMs: durationField({
    env: "PROXY_TIMEOUT",
    flag: "proxy-timeout",
    default: "5m",
    minMs: 1,
    description: "How long a new agent connection keeps trying to reach its VM's forwarder.",
  }),
  holdTimeoutMs: durationField({
    env: "RELAY_HOLD_TIMEOUT",
    flag: "hold-timeout",
    default: "5m",
    minMs: 1,
    description: "How long a Hypervisor call without a deadline (StopVM) waits for cloud-api-adaptor to come back.",
  }),
  logLevel: logLevelField,
});

export type RelayConfig = ConfigOf<typeof relayConfigSpec>;

export function loadRelayConfig(options: LoadOptions): RelayConfig {
  return loadConfig(relayConfigSpec, options);
}
