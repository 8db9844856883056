// A worker node made of network namespaces (root only): the node's own namespace, where the
// daemon runs, with a CNI-like bridge, and pod namespaces on it as a CNI plugin leaves them
// (veth to the bridge, an address, a default route). Every address lives in namespaces made
// here; close() deletes them all.
import { randomBytes } from "node:crypto";
import { runCommand } from "../../src/util/run-command.ts";

export interface WorkerPod {
  readonly netns: string;
  readonly path: string;
  readonly ip: string;
}

export class WorkerNode {
  readonly tag: string;
  readonly netns: string;
  /** 10.<octet>.0.0/24 for pods, .1.0/24 for the local provider's VMs, .2.1 the node's uplink. */
  readonly octet: number;
  private readonly names: string[] = [];
  private podCount = 0;

  private constructor(octet: number) {
    this.octet = octet;
    this.tag = randomBytes(3).toString("hex");
    this.netns = `caa-node-${this.tag}`;
  }

  static async create(octet: number): Promise<WorkerNode> {
    const n = new WorkerNode(octet);
    try {
      await n.addNetns(n.netns);
      await n.ip(["link", "add", "cni0", "type", "bridge"]);
      await n.ip(["addr", "add", `${n.gateway}/24`, "dev", "cni0"]);
      await n.ip(["link", "set", "cni0", "up"]);
      // The node's uplink: carries its default route, so the daemon picks its address for VXLAN.
      // (a veth pair, whose far end stays unused: this kernel has no dummy device)
      await n.ip(["link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1"]);
      await n.ip(["addr", "add", `10.${octet}.2.1/24`, "dev", "uplink0"]);
      await n.ip(["link", "set", "uplink1", "up"]);
      await n.ip(["link", "set", "uplink0", "up"]);
      await n.ip(["route", "add", "default", "dev", "uplink0"]);
    } catch (err) {
      await n.close();
      throw err;
    }
    return n;
  }

  get gateway(): string {
    return `10.${this.octet}.0.1`;
  }

  /** Environment that puts the local provider's VMs on a subnet of this node. */
  get localProviderEnv(): Record<string, string> {
    return { LOCAL_NETWORK: "netns", LOCAL_SUBNET: `10.${this.octet}.1`, LOCAL_BRIDGE: "caavms0" };
  }

  ip(args: string[]): Promise<string> {
    return runCommand("ip", ["-n", this.netns, ...args]);
  }

  /** Runs a program in the node's namespace. */
  exec(program: string, args: string[]): Promise<string> {
    return runCommand("ip", ["netns", "exec", this.netns, program, ...args]);
  }

  /** A pod namespace as CNI leaves it; `withInterface: false` gives one with only lo. */
  async addPod(options: { withInterface?: boolean; mtu?: number } = {}): Promise<WorkerPod> {
    const i = this.podCount++;
    const name = `caa-pod-${this.tag}-${i}`;
    await this.addNetns(name);
    const path = `/run/netns/${name}`;
    if (options.withInterface === false) return { netns: name, path, ip: "" };
    const host = `vp${this.tag}${i}`.slice(0, 15);
    const ip = `10.${this.octet}.0.${10 + i}`;
    await this.ip(["link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", name]);
    await this.ip(["link", "set", host, "master", "cni0", "up"]);
    const inPod = (args: string[]) => runCommand("ip", ["-n", name, ...args]);
    if (options.mtu !== undefined) await inPod(["link", "set", "eth0", "mtu", String(options.mtu)]);
    await inPod(["addr", "add", `${ip}/24`, "dev", "eth0"]);
    await inPod(["link", "set", "eth0", "up"]);
    await inPod(["route", "add", "default", "via", this.gateway]);
    return { netns: name, path, ip };
  }

  private async addNetns(name: string): Promise<void> {
    this.names.push(name);
    await runCommand("ip", ["netns", "add", name]);
    await runCommand("ip", ["-n", name, "link", "set", "lo", "up"]);
  }

  async close(): Promise<void> {
    for (const n of this.names.reverse()) await runCommand("ip", ["netns", "del", n]).catch(() => {});
  }
}
