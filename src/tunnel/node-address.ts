// The node's own address: that of HOST_INTERFACE, else of the interface carrying the IPv4
// default route. Peer VMs send VXLAN to it, and the probe port listens on it.
import { NetnsTools } from "./netns-tools.ts";

export interface NodeAddress {
  readonly dev: string;
  readonly address: string;
  readonly mtu: number;
}

export async function findNodeAddress(
  hostInterface: string | undefined,
  signal: AbortSignal,
  host: NetnsTools = new NetnsTools(undefined),
): Promise<NodeAddress> {
  let dev = hostInterface;
  if (dev === undefined) {
    const route = (await host.ipv4Routes(signal)).find((r) => r.dst === "default" && r.dev !== undefined);
    if (route?.dev === undefined) {
      throw new Error(
        `no IPv4 default route through a single interface in ${host.describe()}: set the host interface peer VMs reach this node on`,
      );
    }
    dev = route.dev;
  }
  const link = await host.link(dev, signal);
  if (link === undefined) throw new Error(`host interface ${dev} does not exist in ${host.describe()}`);
  const [address] = await host.ipv4Addresses(dev, signal);
  if (address === undefined)
    throw new Error(`host interface ${dev} has no IPv4 address for peer VMs to reach this node on`);
  return { dev, address: address.slice(0, address.indexOf("/")), mtu: link.mtu };
}
