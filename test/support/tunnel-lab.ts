// A worker node, a peer VM and pods made of network namespaces, for the tunnel's tests and
// benchmark (root only). Every address lives inside namespaces made here, so nothing is routed
// anywhere else, and close() deletes every namespace, taking their devices along.
//
//   node ns: ul0 192.168.77.1/24 ──veth── ul0 192.168.77.2/24 :VM ns
//            cni0 bridge 10.77.0.1/24
//              └─ vethN ──veth── eth0 10.77.0.(5+N)/24, default via 10.77.0.1 :pod ns N
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { runCommand } from "../../src/util/run-command.ts";

export const UNDERLAY_NODE = "192.168.77.1";
export const UNDERLAY_VM = "192.168.77.2";
export const BRIDGE_ADDRESS = "10.77.0.1";
export const UNDERLAY_DEV = "ul0";

const PEER = fileURLToPath(new URL("./tunnel-peer.ts", import.meta.url));

export interface LabPod {
  readonly name: string;
  readonly path: string;
  /** Empty for a pod made without an interface. */
  readonly ip: string;
}

export function netnsPathOf(name: string): string {
  return `/run/netns/${name}`;
}

/** Runs a program inside a network namespace given by path. */
export function runIn(netnsPath: string, program: string, args: readonly string[]): Promise<string> {
  return runCommand("nsenter", [`--net=${netnsPath}`, "--", program, ...args]);
}

export class TunnelLab {
  readonly prefix: string;
  readonly node: string;
  readonly vm: string;
  private readonly names: string[] = [];
  private readonly children: ChildProcess[] = [];
  private pods = 0;

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.node = netnsPathOf(`${prefix}-node`);
    this.vm = netnsPathOf(`${prefix}-vm`);
  }

  /** `tag` keeps concurrent labs apart; namespace names are global to the kernel. */
  static async create(tag: string): Promise<TunnelLab> {
    const lab = new TunnelLab(`tnl-${tag}-${process.pid}`);
    try {
      await lab.build();
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** A fresh namespace name under this lab's prefix, deleted by close(). */
  name(suffix: string): string {
    const n = `${this.prefix}-${suffix}`;
    this.names.push(n);
    return n;
  }

  private async addNetns(suffix: string): Promise<string> {
    const n = this.name(suffix);
    await runCommand("ip", ["netns", "add", n]);
    await runCommand("ip", ["-n", n, "link", "set", "lo", "up"]);
    return n;
  }

  private async build(): Promise<void> {
    const node = await this.addNetns("node");
    const vm = await this.addNetns("vm");
    const ipn = (args: string[]) => runCommand("ip", ["-n", node, ...args]);
    const ipv = (args: string[]) => runCommand("ip", ["-n", vm, ...args]);
    await ipn(["link", "add", UNDERLAY_DEV, "type", "veth", "peer", "name", UNDERLAY_DEV, "netns", vm]);
    await ipn(["addr", "add", `${UNDERLAY_NODE}/24`, "dev", UNDERLAY_DEV]);
    await ipn(["link", "set", UNDERLAY_DEV, "up"]);
    await ipv(["addr", "add", `${UNDERLAY_VM}/24`, "dev", UNDERLAY_DEV]);
    await ipv(["link", "set", UNDERLAY_DEV, "up"]);
    await ipn(["link", "add", "cni0", "type", "bridge"]);
    await ipn(["addr", "add", `${BRIDGE_ADDRESS}/24`, "dev", "cni0"]);
    await ipn(["link", "set", "cni0", "up"]);
    // The node only reaches pods over the tunnel: it must not route between its interfaces.
    await runIn(this.node, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=0"]);
  }

  /** A pod namespace as a CNI bridge plugin leaves it; `mtu` of its eth0, or no eth0 at all. */
  async addPod(o: { mtu?: number; withInterface?: boolean } = {}): Promise<LabPod> {
    const i = this.pods++;
    const name = await this.addNetns(`pod${i}`);
    if (o.withInterface === false) return { name, path: netnsPathOf(name), ip: "" };
    const ip = `10.77.0.${5 + i}`;
    const node = `${this.prefix}-node`;
    const host = `veth${i}`;
    await runCommand("ip", ["-n", node, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", name]);
    await runCommand("ip", ["-n", node, "link", "set", host, "master", "cni0", "up"]);
    const ipp = (args: string[]) => runCommand("ip", ["-n", name, ...args]);
    if (o.mtu !== undefined) {
      await ipp(["link", "set", "eth0", "mtu", String(o.mtu)]);
      await runCommand("ip", ["-n", node, "link", "set", host, "mtu", String(o.mtu)]);
    }
    await ipp(["addr", "add", `${ip}/24`, "dev", "eth0"]);
    await ipp(["link", "set", "eth0", "up"]);
    await ipp(["route", "add", "default", "via", BRIDGE_ADDRESS]);
    return { name, path: netnsPathOf(name), ip };
  }

  /** Starts tunnel-peer in a namespace; resolves once a server listens or a client exits. */
  async startServer(
    netnsPath: string,
    role: "echo-server" | "sink-server" | "udp-holder",
    host: string,
    port: number,
  ): Promise<{ lines: string[] }> {
    const child = spawn("nsenter", [`--net=${netnsPath}`, "--", process.execPath, PEER, role, host, String(port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    const lines: string[] = [];
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        lines.push(line);
        if (line.startsWith('{"listening"')) resolve();
      });
      child.on("exit", (code) => reject(new Error(`${role} exited with ${code}: ${stderr}`)));
      child.on("error", reject);
    });
    return { lines };
  }

  /** Runs a tunnel-peer client to its end and returns its JSON result. */
  async runClient<T>(
    netnsPath: string,
    role: string,
    host: string,
    port: number,
    ...args: (string | number)[]
  ): Promise<T> {
    const out = await runIn(netnsPath, process.execPath, [PEER, role, host, String(port), ...args.map(String)]);
    return JSON.parse(out.trim().split("\n").at(-1)!) as T;
  }

  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(
      this.children.map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined,
      ),
    );
    const errors: string[] = [];
    for (const n of this.names.reverse()) {
      const present = (await runCommand("ip", ["netns", "list"])).split("\n").some((l) => l.split(" ")[0] === n);
      if (present) await runCommand("ip", ["netns", "del", n]).catch((err: Error) => errors.push(err.message));
    }
    if (errors.length > 0) throw new Error(`tunnel lab clean-up: ${errors.join("; ")}`);
  }
}
