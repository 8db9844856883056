import fs from "node:fs/promises";
import { CommandError, runCommand } from "../../src/util/run-command.ts";
import { sha256Hex } from "../../src/util/sha256-hex.ts";
import type { LocalProviderConfig } from "./config.ts";

/** Names of one VM's network pieces, derived from its name (interface names ≤ 15 chars). */
export function vmNetNames(vmName: string): { netns: string; hostVeth: string; peerVeth: string } {
  const h = sha256Hex(vmName).slice(0, 8);
  return { netns: `caa-vm-${h}`, hostVeth: `cvh${h}`, peerVeth: `cvp${h}` };
}

/**
 * Root mode of the local provider: each VM gets a network namespace with a veth to a bridge
 * on the node, as a cloud VM sits on the node's network. The bridge goes with the last VM.
 */
export class LocalNetwork {
  private readonly config: LocalProviderConfig;
  /** Bridge set-up, attaching a veth to it and removing it run one at a time, so a bridge is
   * never deleted under a VM that is being attached. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(config: LocalProviderConfig) {
    this.config = config;
  }

  get gateway(): string {
    return `${this.config.subnetPrefix}.1`;
  }

  ensureBridge(): Promise<void> {
    return this.serialized(() => this.setUpBridge());
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async setUpBridge(): Promise<void> {
    const { bridge } = this.config;
    if (!(await linkExists(bridge))) {
      await ip(["link", "add", bridge, "type", "bridge"]).catch(async (err) => {
        if (!(await linkExists(bridge))) throw err; // another VM made it at the same time
      });
    }
    const addrs = await ip(["-o", "addr", "show", "dev", bridge]);
    if (!addrs.includes(` ${this.gateway}/24 `))
      await ip(["addr", "add", `${this.gateway}/24`, "dev", bridge]).catch(ignoreExists);
    await ip(["link", "set", bridge, "up"]);
  }

  /** Creates namespace, veth and address; undoes what it made when a step fails. */
  async attach(vmName: string, address: string): Promise<{ netns: string; hostVeth: string }> {
    const n = vmNetNames(vmName);
    try {
      await ip(["netns", "add", n.netns]).catch(ignoreExists);
      await this.serialized(async () => {
        await this.setUpBridge();
        if (!(await linkExists(n.hostVeth)))
          await ip(["link", "add", n.hostVeth, "type", "veth", "peer", "name", n.peerVeth]);
        await ip(["link", "set", n.hostVeth, "master", this.config.bridge, "up"]);
      });
      if (await linkExists(n.peerVeth)) await ip(["link", "set", n.peerVeth, "netns", n.netns]);
      const inNs = (args: string[]) => ip(["-n", n.netns, ...args]);
      const links = await inNs(["-o", "link", "show"]);
      if (links.includes(`${n.peerVeth}@`) || links.includes(`${n.peerVeth}:`))
        await inNs(["link", "set", n.peerVeth, "name", "eth0"]);
      await inNs(["addr", "add", `${address}/24`, "dev", "eth0"]).catch(ignoreExists);
      await inNs(["link", "set", "eth0", "up"]);
      await inNs(["link", "set", "lo", "up"]);
      await inNs(["route", "replace", "default", "via", this.gateway]);
    } catch (err) {
      await this.detach(vmName).catch(() => {});
      throw err;
    }
    return { netns: n.netns, hostVeth: n.hostVeth };
  }

  /** Removes the VM's namespace and veth; already gone is fine. */
  async detach(vmName: string): Promise<void> {
    const n = vmNetNames(vmName);
    if (await linkExists(n.hostVeth)) await ip(["link", "del", n.hostVeth]).catch(ignoreMissing);
    await ip(["netns", "del", n.netns]).catch(ignoreMissing);
  }

  /** Deletes the bridge when no VM uses it any more. */
  removeBridgeIfUnused(): Promise<void> {
    return this.serialized(async () => {
      const { bridge } = this.config;
      if (!(await linkExists(bridge))) return;
      const ports = await ip(["-o", "link", "show", "master", bridge]);
      if (ports.trim() === "") await ip(["link", "del", bridge]).catch(ignoreMissing);
    });
  }
}

function ip(args: string[]): Promise<string> {
  return runCommand("ip", args);
}

async function linkExists(name: string): Promise<boolean> {
  try {
    await fs.access(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}

function ignoreExists(err: unknown): void {
  if (err instanceof CommandError && /File exists|already exists|already assigned/i.test(err.stderr)) return;
  throw err;
}

function ignoreMissing(err: unknown): void {
  if (err instanceof CommandError && /Cannot find|No such|does not exist|not found/i.test(err.stderr)) return;
  throw err;
}
