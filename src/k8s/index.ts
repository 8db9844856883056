// The daemon's dealings with the Kubernetes API: finding it, and advertising node capacity.

export { loadKubeConfig, SERVICE_ACCOUNT_DIR, type KubeConfigOptions, type KubeConfigSource } from "./kube-config.ts";
export { describeKubeError, isRetriable } from "./kube-errors.ts";
export {
  startNodeCapacity,
  type CapacityOutcome,
  type CapacityRound,
  type NodeCapacity,
  type NodeCapacityOptions,
} from "./node-capacity.ts";
export { kubeSystemUid } from "./cluster-uid.ts";
