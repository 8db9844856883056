// The VM end of a pod's tunnel. The forwarder in a peer VM makes a network namespace (podns)
// for the pod's containers and gives it the pod's own interface: a vxlan device back to the
// worker (same VNI and port), carrying the pod's IP, MAC and routes. The device is created in
// the VM's namespace (the caller's, or `underlayNetns`) so its UDP socket uses the VM's
// network, then moved into podns and renamed to the pod's interface name.
import { isIPv4 } from "node:net";
import type { PodNetwork } from "../userdata/index.ts";
import { runCommand } from "../util/run-command.ts";
import { requireTunnelCapabilities } from "./capabilities.ts";
import { checkMtu, tunnelMtu } from "./mtu.ts";
import { netnsPathState } from "./netns-path.ts";
import { NetnsTools } from "./netns-tools.ts";
import { checkVxlanSpec, deleteVxlan, ensureVxlan, vxlanDeviceName } from "./vxlan-device.ts";

export const DEFAULT_POD_NETNS = "podns";
const NETNS_DIR = "/run/netns";

export interface VmTunnelOptions {
  /**
   * Name of the pod's namespace. `ip netns` names are global to a kernel: several local VMs
   * sharing one must each pass their own.
   */
  readonly podNetnsName?: string | undefined;
  /** Source address of the encapsulated packets (the VM's own); default: the kernel's choice. */
  readonly underlayAddress?: string | undefined;
  /** Path of the namespace holding the VM's network interface; default: this process's own. */
  readonly underlayNetns?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export function podNetnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** Builds the VM end and returns the path of the namespace to start the containers in. */
export async function setupVmTunnel(network: PodNetwork, options: VmTunnelOptions = {}): Promise<string> {
  requireTunnelCapabilities();
  const name = checkNetnsName(options.podNetnsName ?? DEFAULT_POD_NETNS);
  const spec = {
    vni: network.vni,
    remote: network.workerAddress,
    port: network.vxlanPort,
    local: options.underlayAddress,
  };
  checkVxlanSpec(spec);
  checkPodNetwork(network);
  const signal = options.signal;
  const path = podNetnsPath(name);
  const state = await netnsPathState(path);
  const created = state !== "namespace";
  if (state === "not-a-namespace") await runCommand("ip", ["netns", "del", name], { signal });
  if (created) await runCommand("ip", ["netns", "add", name], { signal });

  const pod = new NetnsTools(path);
  const underlay = new NetnsTools(options.underlayNetns);
  const dev = network.interfaceName;
  try {
    await ensureVxlan({ underlay, target: pod, name: dev, spec }, signal);
    const link = await pod.link(dev, signal);
    if (link === undefined) throw new Error(`${dev} vanished from ${pod.describe()} while being set up`);
    if (link.address?.toLowerCase() !== network.mac.toLowerCase()) {
      // A live address change needs the device down; a new device is down anyway.
      await pod.ip(["link", "set", "dev", dev, "down"], signal);
      await pod.ip(["link", "set", "dev", dev, "address", network.mac], signal);
    }
    await pod.ip(["link", "set", "dev", dev, "mtu", String(tunnelMtu(network.mtu))], signal);
    for (const a of network.addresses) await pod.ip(["addr", "replace", a, "dev", dev], signal);
    await pod.ip(["link", "set", "dev", "lo", "up"], signal);
    await pod.ip(["link", "set", "dev", dev, "up"], signal);
    // Direct routes first: a gateway must be reachable before a route can use it.
    const routes = [...network.routes].sort(
      (a, b) => Number(a.gateway !== undefined) - Number(b.gateway !== undefined),
    );
    for (const r of routes) {
      // Every route goes through the pod's one interface, whatever `dev` the worker side named.
      await pod.ip(
        ["route", "replace", r.dst, ...(r.gateway === undefined ? [] : ["via", r.gateway]), "dev", dev],
        signal,
      );
    }
  } catch (err) {
    try {
      await removeVmEnd(network, name, underlay, created);
    } catch (undoErr) {
      throw new Error(
        `${(err as Error).message}; removing the partial tunnel also failed: ${(undoErr as Error).message}`,
        { cause: err },
      );
    }
    throw err;
  }
  return path;
}

/** Removes the pod's interface and namespace; what is already gone counts as removed. */
export async function teardownVmTunnel(network: PodNetwork, options: VmTunnelOptions = {}): Promise<void> {
  requireTunnelCapabilities();
  const name = checkNetnsName(options.podNetnsName ?? DEFAULT_POD_NETNS);
  await removeVmEnd(network, name, new NetnsTools(options.underlayNetns), true);
}

async function removeVmEnd(network: PodNetwork, name: string, underlay: NetnsTools, dropNetns: boolean): Promise<void> {
  await deleteVxlan(underlay, vxlanDeviceName(network.vni));
  const path = podNetnsPath(name);
  const state = await netnsPathState(path);
  if (state === "namespace") {
    // Deleted explicitly: processes still inside would keep the namespace, and the tunnel, alive.
    const pod = new NetnsTools(path);
    if ((await pod.link(network.interfaceName)) !== undefined)
      await pod.ip(["link", "del", "dev", network.interfaceName]);
    await deleteVxlan(pod, vxlanDeviceName(network.vni));
  }
  if (dropNetns && state !== "missing") await runCommand("ip", ["netns", "del", name]);
}

function checkNetnsName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(name) || name === "." || name === "..")
    throw new Error(`"${name}" is not a usable network namespace name`);
  return name;
}

const CIDR = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

function isCidr(s: string): boolean {
  const m = CIDR.exec(s);
  return m !== null && isIPv4(m[1]!) && Number(m[2]) <= 32;
}

/** Rejects a configuration that would make a half-built interface, before anything is made. */
function checkPodNetwork(n: PodNetwork): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.interfaceName))
    throw new Error(`pod interface name "${n.interfaceName}" is not a Linux interface name`);
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(n.mac))
    throw new Error(`pod MAC address "${n.mac}" is not an Ethernet address`);
  checkMtu(n.mtu, `pod interface ${n.interfaceName}`);
  if (n.addresses.length === 0) throw new Error("the pod network has no address");
  for (const a of n.addresses) if (!isCidr(a)) throw new Error(`pod address "${a}" is not an IPv4 CIDR`);
  for (const r of n.routes) {
    if (r.dst !== "default" && !isCidr(r.dst) && !isIPv4(r.dst))
      throw new Error(`pod route destination "${r.dst}" is not an IPv4 prefix`);
    if (r.gateway !== undefined && !isIPv4(r.gateway))
      throw new Error(`pod route gateway "${r.gateway}" is not an IPv4 address`);
  }
}
