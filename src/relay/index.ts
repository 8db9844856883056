// peerpod-relay, the data plane: owns the Hypervisor socket and every sandbox's agent socket,
// relays agent frames to the forwarders over mutual TLS, and passes Hypervisor calls to the
// control plane (cloud-api-adaptor), holding them while it restarts. It knows nothing of clouds:
// it imports ttrpc (raw), proxy and config only, so it rarely needs a new version, and
// restarting it is the one restart that costs the shims their agent connections.
export { AgentSockets } from "./agent-sockets.ts";
export { CONTROL_PREFACE, HYPERVISOR_PREFACE, readPreface, type ConnectionKind } from "./control-preface.ts";
export { ControlPlaneLink, type ControlPlaneLinkOptions } from "./control-plane-link.ts";
export {
  CONTROL_SERVICE,
  HYPERVISOR_METHODS,
  HYPERVISOR_SERVICE,
  decodeJson,
  encodeJson,
  type ClientTlsPem,
  type ControlCalls,
  type ControlMethod,
  type ServeSpec,
  type ServedSandbox,
} from "./control-protocol.ts";
export { DEFAULT_RELAY_SOCKET, loadRelayConfig, relayConfigSpec, type RelayConfig } from "./relay-config.ts";
export { RELAY_VERSION, runRelay, type RelayHandle } from "./run-relay.ts";
