// The daemon's dealings with the Kubernetes API: finding it, and advertising node capacity.

export { kubeSystemUid } from "./cluster-uid.ts";
export { type KubeConfigOptions, type KubeConfigSource, loadKubeConfig, SERVICE_ACCOUNT_DIR } from "./kube-config.ts";
export { describeKubeError, isRetriable } from "./kube-errors.ts";
export {
  type CapacityOutcome,
  type CapacityRound,
  type NodeCapacity,
  type NodeCapacityOptions,
  startNodeCapacity,
} from "./node-capacity.ts";
