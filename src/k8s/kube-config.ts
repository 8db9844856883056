// Where the Kubernetes API is: KUBECONFIG when set, else the pod's service account when running
// in a cluster, else nowhere (the daemon then runs without advertising node capacity). A
// home-directory kubeconfig is deliberately not read: a daemon on a node must not pick up an
// operator's personal credentials by accident.

import { existsSync } from "node:fs";
import { isIPv6 } from "node:net";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeConfigSource {
  readonly kubeConfig: KubeConfig;
  /** For logs: "KUBECONFIG /path" or "in-cluster service account". */
  readonly origin: string;
}

export interface KubeConfigOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The service account folder (tests point it elsewhere). */
  readonly serviceAccountDir?: string;
}

/** The API's configuration, or undefined when no Kubernetes API is configured. Throws on an unreadable KUBECONFIG. */
export function loadKubeConfig(options: KubeConfigOptions): KubeConfigSource | undefined {
  const { env } = options;
  const file = env.KUBECONFIG?.split(path.delimiter).find((p) => p.trim() !== "");
  if (file !== undefined) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(file);
    if (kubeConfig.getCurrentCluster() === null) throw new Error(`KUBECONFIG ${file} names no current cluster`);
    return { kubeConfig, origin: `KUBECONFIG ${file}` };
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = path.join(dir, "token");
  if (host === undefined || host === "" || port === undefined || port === "" || !existsSync(tokenFile))
    return undefined;
  const kubeConfig = new KubeConfig();
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  // The token file is re-read as the kubelet rotates it (client-node's tokenFile provider).
  kubeConfig.loadFromClusterAndUser(
    { name: "in-cluster", server, caFile: path.join(dir, "ca.crt"), skipTLSVerify: false },
    { name: "service-account", authProvider: { name: "tokenFile", config: { tokenFile } } },
  );
  return { kubeConfig, origin: "in-cluster service account" };
}
