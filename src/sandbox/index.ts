// The life cycle of every sandbox on the node: the manager (a state machine per sandbox, each
// transition written before its side effect), its durable store, and the contracts its
// neighbours (proxy, PKI, tunnel) implement.
export { CLUSTER_ID_FILE, type ClusterIdentity, resolveClusterIdentity } from "./cluster-identity.ts";
export type {
  AgentRelay,
  ForwarderAddress,
  PodTunnels,
  PooledVm,
  PoolMiss,
  PoolOutcome,
  RelayFactory,
  VmTlsIssuer,
  WarmPoolPort,
} from "./contracts.ts";
export type { StartPhase } from "./phase-clock.ts";
export { SandboxError, type SandboxErrorKind } from "./sandbox-error.ts";
export {
  FAILPOINTS,
  type ReconcileReport,
  SandboxManager,
  type SandboxManagerOptions,
  type SandboxView,
} from "./sandbox-manager.ts";
export { type ProvidedVm, SANDBOX_ID_PATTERN, type SandboxRecord, type SandboxState } from "./sandbox-record.ts";
export { SandboxStore } from "./sandbox-store.ts";
export { vmNameFor } from "./vm-name.ts";
