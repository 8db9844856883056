// The sandbox manager's contracts: what it needs from its neighbours, as narrow interfaces.
// The proxy, the PKI and the tunnel implement them and the CLI wires them in; tests may wire
// lighter ones.
import type { ResourceRequest } from "../../providers/provider.ts";
import type { ForwarderAddress } from "../proxy/forwarder-address.ts";
import type { CloudConfigFile, ForwarderTls, PodNetwork } from "../userdata/index.ts";

export type { ForwarderAddress };

/** Serves one sandbox's agent socket and relays it to the forwarder. */
export interface AgentRelay {
  start(): Promise<void>;
  /** Stops relaying; the socket keeps answering errors for `lingerMs`, then disappears.
   * stop(0) on a lingering relay ends the linger at once. */
  stop(lingerMs: number): Promise<void>;
  /** Resolves once the socket is gone. */
  readonly closed: Promise<void>;
}

export interface RelayFactory {
  create(sandboxId: string, socketPath: string, target: ForwarderAddress): AgentRelay;
  /** Resolves once the sandbox's forwarder answers (its certificate naming the sandbox);
   * rejects with an actionable message on abort. */
  waitForForwarder(target: ForwarderAddress, signal: AbortSignal, sandboxId: string): Promise<void>;
}

/** Issues each VM its TLS material (undefined when TLS is disabled). */
export interface VmTlsIssuer {
  /** A server certificate naming the sandbox, with the CA that signs the daemon's client. */
  issueForVm(sandboxId: string): Promise<ForwarderTls>;
}

/** The worker end of a pod's tunnel (VXLAN); absent when pods have no network namespace. */
export interface PodTunnels {
  /** Refuses, at CreateVM, a namespace no tunnel may be made in (the node's own). */
  checkNamespace(netnsPath: string): Promise<void>;
  /** Reads the pod's interface from its netns and reserves a VNI: what the VM end needs. */
  prepare(sandboxId: string, netnsPath: string, signal: AbortSignal): Promise<PodNetwork>;
  /** Creates the worker side once the VM's address is known. */
  connect(
    sandboxId: string,
    netnsPath: string,
    network: PodNetwork,
    vmAddress: string,
    signal: AbortSignal,
  ): Promise<void>;
  /** Removes the worker side; idempotent. */
  teardown(sandboxId: string, netnsPath: string, network: PodNetwork | undefined): Promise<void>;
}

/** A ready warm-pool VM handed to one StartVM. */
export interface PooledVm {
  readonly name: string;
  readonly token: string;
  readonly id: string;
  readonly address: string;
  readonly instanceType: string | undefined;
}

/** Why a StartVM went cold while the pool is on (see src/pool/pool-fit.ts). */
export type PoolMiss = "instance_type" | "size" | "gpus" | "image" | "initdata" | "empty" | "claim_failed";

/** claimed, or why the pod went cold. */
export type PoolOutcome = "claimed" | PoolMiss;

/** What StartVM needs of the warm pool (src/pool). */
export interface WarmPoolPort {
  /** A ready VM for a pod that fits, taken at once; else why not; undefined when the pool is off. */
  take(resources: ResourceRequest, initdata: string | undefined): { vm: PooledVm } | { miss: PoolMiss } | undefined;
  /** The sandbox's record names the VM now: the pool forgets it. */
  handedOver(name: string): Promise<void>;
  /** Pushes the sandbox's files to the VM's forwarder; throws when the VM did not take them.
   * agentReady: the forwarder's reply vouches that it relays to a live agent now. */
  claim(
    vm: PooledVm,
    sandboxId: string,
    files: readonly CloudConfigFile[],
    signal: AbortSignal,
  ): Promise<{ readonly agentReady: boolean }>;
}
