// The worker end of each pod's tunnel. CNI gave the pod an interface (eth0) in its network
// namespace on this node; the pod's containers run in a peer VM. A vxlan device (VNI per pod,
// remote = the VM) is created in the node's namespace, so its UDP socket stays there, then
// moved into the pod's namespace, where tc redirects eth0 ⇄ vxlan: whatever the node sends to
// the pod's IP crosses to the VM, and the VM's replies come out of eth0 as if from the pod.
import type { PodTunnels } from "../sandbox/index.ts";
import type { PodNetwork } from "../userdata/index.ts";
import { requireTunnelCapabilities } from "./capabilities.ts";
import { checkMtu, tunnelMtu } from "./mtu.ts";
import { netnsPathState, refuseNodeNetns, requirePodNetns } from "./netns-path.ts";
import { NetnsTools } from "./netns-tools.ts";
import { findNodeAddress } from "./node-address.ts";
import { readPodInterface } from "./pod-interface.ts";
import { installRedirect, removeRedirect } from "./tc-redirect.ts";
import { checkVxlanSpec, deleteVxlan, ensureVxlan, vxlanDeviceName } from "./vxlan-device.ts";

export interface WorkerTunnelsOptions {
  /** The node interface peer VMs send VXLAN to; default: the one carrying the default route. */
  readonly hostInterface?: string | undefined;
  readonly vxlanPort: number;
  /** Path of the namespace holding the node's interfaces; default: this process's own. */
  readonly underlayNetns?: string | undefined;
}

export class WorkerTunnels implements PodTunnels {
  private readonly o: WorkerTunnelsOptions;
  private readonly host: NetnsTools;

  constructor(o: WorkerTunnelsOptions) {
    this.o = o;
    this.host = new NetnsTools(o.underlayNetns);
  }

  async checkNamespace(netnsPath: string): Promise<void> {
    if (!netnsPath.startsWith("/")) throw new Error(`pod network namespace "${netnsPath}" is not an absolute path`);
    await refuseNodeNetns(netnsPath, this.nodeNetns);
  }

  /** Reads the pod's interface and this node's address. `vni` is left 0 for the caller to fill. */
  async prepare(_sandboxId: string, netnsPath: string, signal: AbortSignal): Promise<PodNetwork> {
    requireTunnelCapabilities();
    await requirePodNetns(netnsPath);
    await refuseNodeNetns(netnsPath, this.nodeNetns);
    const pod = await readPodInterface(new NetnsTools(netnsPath), signal);
    checkMtu(pod.mtu, `pod interface ${pod.name} in ${netnsPath}`);
    const workerAddress = await this.workerAddress(signal);
    return {
      workerAddress,
      vni: 0,
      vxlanPort: this.o.vxlanPort,
      interfaceName: pod.name,
      mac: pod.mac,
      mtu: pod.mtu,
      addresses: pod.addresses,
      routes: pod.routes,
    };
  }

  /** Builds the worker end; a retry completes a partial one; a failure leaves nothing. */
  async connect(
    _sandboxId: string,
    netnsPath: string,
    network: PodNetwork,
    vmAddress: string,
    signal: AbortSignal,
  ): Promise<void> {
    requireTunnelCapabilities();
    const spec = { vni: network.vni, remote: vmAddress, port: network.vxlanPort, local: network.workerAddress };
    checkVxlanSpec(spec);
    checkMtu(network.mtu, `pod interface ${network.interfaceName}`);
    await requirePodNetns(netnsPath);
    const pod = new NetnsTools(netnsPath);
    const name = vxlanDeviceName(network.vni);
    try {
      if ((await pod.link(network.interfaceName, signal)) === undefined) {
        throw new Error(`pod interface ${network.interfaceName} is missing from pod network namespace ${netnsPath}`);
      }
      await ensureVxlan({ underlay: this.host, target: pod, name, spec }, signal);
      await pod.ip(["link", "set", "dev", name, "mtu", String(tunnelMtu(network.mtu)), "up"], signal);
      await installRedirect(pod, network.interfaceName, name, signal);
    } catch (err) {
      // No signal here: an aborted connect must still clean up after itself.
      try {
        await this.removeEnd(netnsPath, network);
      } catch (undoErr) {
        throw new Error(
          `${(err as Error).message}; removing the partial tunnel also failed: ${(undoErr as Error).message}`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Removes the vxlan device and the redirect; what is already gone counts as removed. */
  async teardown(_sandboxId: string, netnsPath: string, network: PodNetwork | undefined): Promise<void> {
    // Without the network, connect never ran: there is nothing of ours to remove.
    if (network === undefined) return;
    requireTunnelCapabilities();
    await this.removeEnd(netnsPath, network);
  }

  /** The namespace holding the node's interfaces. */
  private get nodeNetns(): string {
    return this.o.underlayNetns ?? "/proc/self/ns/net";
  }

  private async removeEnd(netnsPath: string, network: PodNetwork): Promise<void> {
    const name = vxlanDeviceName(network.vni);
    // Left in the node's namespace by a crash between creating the device and moving it.
    await deleteVxlan(this.host, name);
    // A released namespace took the device and the filters with it.
    if ((await netnsPathState(netnsPath)) !== "namespace") return;
    const pod = new NetnsTools(netnsPath);
    await removeRedirect(pod, network.interfaceName, name);
    await deleteVxlan(pod, name);
  }

  /** The IPv4 address of the node interface the VMs are to send VXLAN to. */
  private async workerAddress(signal: AbortSignal): Promise<string> {
    const node = await findNodeAddress(this.o.hostInterface, signal, this.host);
    checkMtu(node.mtu, `host interface ${node.dev}`);
    return node.address;
  }
}
