// The pod's interface as CNI left it in the pod's network namespace: what the VM end of the
// tunnel must reproduce so that the pod keeps its IP, MAC and routes while running elsewhere.
import type { PodNetwork } from "../userdata/index.ts";
import type { NetnsTools } from "./netns-tools.ts";
import { isVxlan } from "./vxlan-device.ts";

export type PodRoute = PodNetwork["routes"][number];

export interface PodInterface {
  readonly name: string;
  readonly mac: string;
  readonly mtu: number;
  readonly addresses: readonly string[];
  readonly routes: readonly PodRoute[];
}

/**
 * Reads the pod's interface: the first device other than loopback (CNI's eth0), skipping a
 * vxlan device a previous attempt may have left. Routes the kernel derives from the addresses
 * (proto kernel) are left out: the VM end gets them by adding the same addresses.
 */
export async function readPodInterface(pod: NetnsTools, signal?: AbortSignal): Promise<PodInterface> {
  const links = await pod.links(signal);
  const candidates = links
    .filter((l) => l.link_type !== "loopback" && !isVxlan(l))
    .sort((a, b) => a.ifindex - b.ifindex);
  const link = candidates[0];
  if (link === undefined)
    throw new Error(`pod ${pod.describe()} has no network interface besides lo: has the CNI plugin set it up?`);
  if (link.address === undefined || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(link.address)) {
    throw new Error(
      `pod interface ${link.ifname} in ${pod.describe()} has no Ethernet address (link type ${link.link_type ?? "unknown"})`,
    );
  }
  const addresses = await pod.ipv4Addresses(link.ifname, signal);
  if (addresses.length === 0) throw new Error(`pod interface ${link.ifname} in ${pod.describe()} has no IPv4 address`);
  const routes: PodRoute[] = [];
  for (const r of await pod.ipv4Routes(signal)) {
    if (r.dev !== link.ifname || r.protocol === "kernel") continue;
    routes.push(
      r.gateway === undefined ? { dst: r.dst, dev: link.ifname } : { dst: r.dst, gateway: r.gateway, dev: link.ifname },
    );
  }
  return { name: link.ifname, mac: link.address, mtu: link.mtu, addresses, routes };
}
