// iproute2 (`ip`, `tc`) in one network namespace, with its JSON output typed to the few fields
// the tunnel reads. A namespace is named by path (/run/netns/x, /proc/<pid>/ns/net) and entered
// with nsenter, which takes either form; undefined means this process's own namespace.
import { access } from "node:fs/promises";
import { CommandError, runCommand } from "../util/run-command.ts";

export interface LinkJson {
  readonly ifindex: number;
  readonly ifname: string;
  readonly mtu: number;
  readonly address?: string;
  readonly link_type?: string;
  readonly flags?: readonly string[];
  /** Present when the device's lower end (a vxlan's socket) lives in another namespace. */
  readonly link_netnsid?: number;
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: {
      readonly id?: number;
      readonly remote?: string;
      readonly local?: string;
      readonly port?: number;
    };
  };
}

interface AddressJson {
  readonly ifname?: string;
  readonly addr_info?: readonly {
    readonly family?: string;
    readonly local?: string;
    readonly prefixlen?: number;
    readonly scope?: string;
  }[];
}

export interface RouteJson {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly scope?: string;
}

interface QdiscJson {
  readonly kind: string;
}

export interface FilterJson {
  readonly options?: {
    readonly actions?: readonly { readonly kind?: string; readonly to_dev?: string; readonly mirred_action?: string }[];
  };
}

export class NetnsTools {
  readonly netns: string | undefined;

  constructor(netns: string | undefined) {
    this.netns = netns;
  }

  /** For error messages. */
  describe(): string {
    return this.netns === undefined ? "this process's network namespace" : `network namespace ${this.netns}`;
  }

  run(program: "ip" | "tc", args: readonly string[], signal?: AbortSignal): Promise<string> {
    if (this.netns === undefined) return runCommand(program, args, { signal });
    return runCommand("nsenter", [`--net=${this.netns}`, "--", program, ...args], { signal });
  }

  ip(args: readonly string[], signal?: AbortSignal): Promise<string> {
    return this.run("ip", args, signal);
  }

  tc(args: readonly string[], signal?: AbortSignal): Promise<string> {
    return this.run("tc", args, signal);
  }

  async links(signal?: AbortSignal): Promise<LinkJson[]> {
    return JSON.parse(await this.ip(["-j", "-d", "link", "show"], signal)) as LinkJson[];
  }

  /** The device, or undefined when this namespace has none by that name. */
  async link(name: string, signal?: AbortSignal): Promise<LinkJson | undefined> {
    try {
      const [link] = JSON.parse(await this.ip(["-j", "-d", "link", "show", "dev", name], signal)) as LinkJson[];
      return link;
    } catch (err) {
      if (err instanceof CommandError && /does not exist/.test(err.stderr)) return undefined;
      throw err;
    }
  }

  /** IPv4 addresses of a device, as CIDR strings. */
  async ipv4Addresses(dev: string, signal?: AbortSignal): Promise<string[]> {
    const entries = JSON.parse(await this.ip(["-j", "-4", "addr", "show", "dev", dev], signal)) as AddressJson[];
    const out: string[] = [];
    for (const e of entries) {
      for (const a of e.addr_info ?? []) {
        if (a.family === "inet" && a.local !== undefined && a.prefixlen !== undefined)
          out.push(`${a.local}/${a.prefixlen}`);
      }
    }
    return out;
  }

  /** IPv4 routes of the main table. */
  async ipv4Routes(signal?: AbortSignal): Promise<RouteJson[]> {
    return JSON.parse(await this.ip(["-j", "-4", "route", "show", "table", "main"], signal)) as RouteJson[];
  }

  async hasIngressQdisc(dev: string, signal?: AbortSignal): Promise<boolean> {
    const qdiscs = JSON.parse(await this.tc(["-j", "qdisc", "show", "dev", dev], signal)) as QdiscJson[];
    return qdiscs.some((q) => q.kind === "ingress");
  }

  async ingressFilters(dev: string, signal?: AbortSignal): Promise<FilterJson[]> {
    return JSON.parse(await this.tc(["-j", "filter", "show", "dev", dev, "ingress"], signal)) as FilterJson[];
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
