// peerpod-relay, the data plane: owns the Hypervisor socket and every sandbox's agent socket,
// relays agent frames to the forwarders over mutual TLS, and passes Hypervisor calls to the
// control plane (cloud-api-adaptor), holding them while it restarts. It knows nothing of clouds:
// it imports ttrpc (raw), proxy and config only, so it rarely needs a new version, and
// restarting it is the one restart that costs the shims their agent connections.
export { AgentSockets } from "./agent-sockets.ts";
export { ControlPlaneLink, type ControlPlaneLinkOptions } from "./control-plane-link.ts";
export { CONTROL_PREFACE, type ConnectionKind, HYPERVISOR_PREFACE, readPreface } from "./control-preface.ts";
export {
  type ClientTlsPem,
  CONTROL_SERVICE,
  type ControlCalls,
  type ControlMethod,
  decodeJson,
  encodeJson,
  HYPERVISOR_METHODS,
  HYPERVISOR_SERVICE,
  type ServedSandbox,
  type ServeSpec,
} from "./control-protocol.ts";
export { DEFAULT_RELAY_SOCKET, loadRelayConfig, type RelayConfig, relayConfigSpec } from "./relay-config.ts";
export { RELAY_VERSION, type RelayHandle, runRelay } from "./run-relay.ts";
