// Reads the pull secrets a pod may use from the Kubernetes API: the pod's imagePullSecrets, then
// its service account's (the kubelet's order), and merges them into one containers-auth.json.
//
// Only the secrets the pod names are read, one GET each: the daemon's role has `get` on pods,
// serviceaccounts and secrets and nothing broader. Every failure is a warning naming pod,
// namespace and secret; the pod still starts (it may pull only public images), so none of this
// ever fails a StartVM. Secret contents never reach the log.

import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describeKubeError, statusOf } from "../k8s/kube-errors.ts";
import { withSignal } from "../k8s/request-options.ts";
import {
  type AuthFile,
  credentialsOfSecret,
  mergeCredentials,
  PullSecretError,
  type RegistryCredential,
} from "./auth-file.ts";

/** The pod whose secrets are wanted (from the CRI annotations the shim forwards). */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export interface PullSecretReaderOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Deadline of each API request; default 5 s. */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_SERVICE_ACCOUNT = "default";

// What the node daemon's role must allow, named in the warning an RBAC denial gives.
const RBAC_HINT =
  "the daemon's service account needs get on pods, serviceaccounts and secrets (deploy/base/daemon-rbac.yaml)";

export class PullSecretReader {
  private readonly api: CoreV1Api;
  private readonly log: Logger;
  private readonly requestTimeoutMs: number;
  // One warning per outage of the API, not one per pod.
  private unreachable = false;

  constructor(options: PullSecretReaderOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.log = options.logger;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  }

  private bounded(signal: AbortSignal) {
    return withSignal(AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]));
  }

  /** The merged auth file, or undefined when the pod names no usable secret or the API cannot
   * be read (each reason logged). Rejects only when `signal` aborts. */
  async authFileFor(pod: PodRef, signal: AbortSignal): Promise<AuthFile | undefined> {
    const log = this.log.child({ pod: pod.name, namespace: pod.namespace });
    let names: string[];
    try {
      names = await this.secretNames(pod, signal, log);
    } catch (err) {
      signal.throwIfAborted();
      this.warnApi(log, err, `cannot read pod ${pod.namespace}/${pod.name}: registry credentials left out`);
      return undefined;
    }
    this.apiBack(log);
    const sources: Map<string, RegistryCredential>[] = [];
    for (const name of names) {
      const credentials = await this.readSecret(pod, name, signal, log);
      if (credentials !== undefined) sources.push(credentials);
    }
    if (sources.length === 0) return undefined;
    return mergeCredentials(sources);
  }

  // The pod's secrets first, then its service account's, each name once.
  private async secretNames(pod: PodRef, signal: AbortSignal, log: Logger): Promise<string[]> {
    const found = await this.api.readNamespacedPod({ namespace: pod.namespace, name: pod.name }, this.bounded(signal));
    const names = (found.spec?.imagePullSecrets ?? []).map((r) => r.name ?? "").filter((n) => n !== "");
    const account = found.spec?.serviceAccountName ?? DEFAULT_SERVICE_ACCOUNT;
    try {
      const sa = await this.api.readNamespacedServiceAccount(
        { namespace: pod.namespace, name: account },
        this.bounded(signal),
      );
      for (const ref of sa.imagePullSecrets ?? []) if (ref.name !== undefined && ref.name !== "") names.push(ref.name);
    } catch (err) {
      signal.throwIfAborted();
      log.warn(
        { serviceAccount: account, err: describeKubeError(err) },
        `cannot read service account ${pod.namespace}/${account}: its pull secrets are left out${statusOf(err) === 403 ? ` (${RBAC_HINT})` : ""}`,
      );
    }
    return [...new Set(names)];
  }

  private async readSecret(
    pod: PodRef,
    name: string,
    signal: AbortSignal,
    log: Logger,
  ): Promise<Map<string, RegistryCredential> | undefined> {
    try {
      const secret = await this.api.readNamespacedSecret({ namespace: pod.namespace, name }, this.bounded(signal));
      return credentialsOfSecret({ name, type: secret.type, data: secret.data });
    } catch (err) {
      signal.throwIfAborted();
      const reason = err instanceof PullSecretError ? `it is malformed: ${err.message}` : describeKubeError(err);
      const hint = statusOf(err) === 403 ? ` (${RBAC_HINT})` : "";
      log.warn(
        { secret: name, err: reason },
        `pull secret ${pod.namespace}/${name} of pod ${pod.name} is not usable${hint}; pulls from its registries will be anonymous`,
      );
      return undefined;
    }
  }

  private warnApi(log: Logger, err: unknown, message: string): void {
    const status = statusOf(err);
    if (status === undefined) {
      // No answer at all: one warning for the outage.
      if (!this.unreachable) log.warn({ err: describeKubeError(err) }, `Kubernetes API unreachable: ${message}`);
      this.unreachable = true;
      return;
    }
    log.warn({ err: describeKubeError(err) }, `${message}${status === 403 ? ` (${RBAC_HINT})` : ""}`);
  }

  private apiBack(log: Logger): void {
    if (this.unreachable) log.info("Kubernetes API reachable again: pods get their registry credentials");
    this.unreachable = false;
  }
}
