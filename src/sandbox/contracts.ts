// The sandbox manager's contracts: what it needs from its neighbours, as narrow interfaces.
// The proxy, the PKI and the tunnel implement them and the CLI wires them in; tests may wire
// lighter ones.
import type { ForwarderAddress } from "../proxy/forwarder-address.ts";
import type { ForwarderTls, PodNetwork } from "../userdata/index.ts";

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
