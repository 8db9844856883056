// The cluster's identity as Kubernetes keeps it: the UID of the kube-system namespace, made
// once when the cluster is created and never changed, distinct for every cluster.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { describeKubeError } from "./kube-errors.ts";
import { withSignal } from "./request-options.ts";

export async function kubeSystemUid(kubeConfig: KubeConfig, signal: AbortSignal): Promise<string> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  let uid: string | undefined;
  try {
    uid = (await api.readNamespace({ name: "kube-system" }, withSignal(signal))).metadata?.uid;
  } catch (err) {
    throw new Error(`reading namespace kube-system: ${describeKubeError(err)}`, { cause: err });
  }
  if (uid === undefined || uid === "") throw new Error("namespace kube-system has no UID");
  return uid;
}
