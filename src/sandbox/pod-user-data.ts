// What a sandbox's peer VM is told at boot: its forwarder's configuration (listen port, the TLS
// material naming the sandbox, the pod network for the VM end of the tunnel), the pod's
// initdata and its registry credentials.
import { ANNOTATIONS } from "../kata/annotations.ts";
import type { RegistryAuth } from "../registry-auth/index.ts";
import { buildCloudConfig, type CloudConfigFile, type PodNetwork, sandboxFiles } from "../userdata/index.ts";
import type { VmTlsIssuer } from "./contracts.ts";

export interface PodUserDataInput {
  readonly sandboxId: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly forwarderPort: number;
  /** Undefined when TLS is disabled. */
  readonly tls: VmTlsIssuer | undefined;
  /** Undefined when the pod has no tunnel. */
  readonly podNetwork: PodNetwork | undefined;
  /** Initdata for pods whose annotations carry none (INITDATA). */
  readonly defaultInitdata: string | undefined;
  /** Undefined when registry credentials are off. */
  readonly registryAuth: RegistryAuth | undefined;
  readonly signal: AbortSignal;
}

/** Issues the VM its certificate, finds the pod's registry credentials and assembles its
 * user-data. */
export async function podUserData(i: PodUserDataInput): Promise<string> {
  return buildCloudConfig(await podFiles(i));
}

/** The files of podUserData: what a cold VM's user-data writes, and what a claim hands a warm
 * pool VM (one list, so both paths carry the same: configuration, initdata, registry auth). */
export async function podFiles(i: PodUserDataInput): Promise<CloudConfigFile[]> {
  const tls = i.tls === undefined ? undefined : await i.tls.issueForVm(i.sandboxId);
  const initdata = i.annotations[ANNOTATIONS.initdata] || i.defaultInitdata;
  const auth = await i.registryAuth?.forPod(i.annotations, i.signal);
  const config = {
    version: 1 as const,
    sandboxId: i.sandboxId,
    listenPort: i.forwarderPort,
    tls,
    podNetwork: i.podNetwork,
  };
  return sandboxFiles(config, initdata, auth === undefined ? undefined : JSON.stringify(auth));
}
