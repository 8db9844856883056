// The local provider's VMs are real process groups: a VM stays findable by its marks whatever a
// crash interrupts, a process group id the kernel gave to someone else is never signalled, and
// a VM of another owner is never replaced or deleted.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { type CreateVmRequest, type Ownership, ProviderError } from "../provider.ts";
import { localProviderConfig } from "./config.ts";
import { LocalProvider } from "./provider.ts";

const node = { node: "node-l", cluster: "cluster-l/uid-1" };
let dir: string;
let provider: LocalProvider;
const strays: number[] = [];

function request(name: string, sandboxId: string, owner: Omit<Ownership, "sandboxId"> = node): CreateVmRequest {
  return {
    name,
    token: `token-${sandboxId}`,
    owner: { ...owner, sandboxId },
    resources: { instanceType: undefined, vcpus: undefined, memoryMiB: undefined, gpus: undefined, image: undefined },
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
  };
}

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pgid); i++) await new Promise((r) => setTimeout(r, 25));
  return !alive(pgid);
}

/** A process group that is not a VM: what a recycled process group id names. */
async function strayGroup(): Promise<number> {
  const child = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
  await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
  child.unref();
  strays.push(child.pid!);
  return child.pid!;
}

/** Until the VM's forwarder listens: the VM has booted (read its user-data, started its agent). */
async function booted(address: string | undefined): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ host: address, port: 15150 });
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`local VM at ${address} did not boot`);
}

const deadline = () => AbortSignal.timeout(30_000);
const recordOf = async (name: string) =>
  JSON.parse(await fs.readFile(path.join(dir, "vms", name, "vm.json"), "utf8")) as { pgid?: number };

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "local-provider-"));
  provider = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: path.join(dir, "vms") }, dir, false),
    pino({ level: "silent" }),
  );
  await provider.check();
});

afterEach(async () => {
  for (const v of await provider.listOwnedVms(node)) await provider.deleteVm(v);
  for (const pid of strays.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
});

describe("local provider", () => {
  it("finds and deletes a VM whose process group id never reached its record (killed right after the spawn)", async () => {
    const vm = await provider.createVm(request("podvm-a", "sb-a"), deadline());
    await booted(vm.address);
    const pgid = Number(vm.id);
    // What a SIGKILL between the spawn and the record's update leaves: a record without a pgid.
    const rec = await recordOf("podvm-a");
    await fs.writeFile(path.join(dir, "vms", "podvm-a", "vm.json"), JSON.stringify({ ...rec, pgid: undefined }));
    await provider.deleteVm({ id: undefined, name: "podvm-a", owner: vm.owner }, deadline());
    expect(await gone(pgid)).toBe(true);
  });

  it("boots a VM with a name as long as the daemon makes in a folder as deep as the default LOCAL_VM_DIR", async () => {
    // /var/lib/cloud-api-adaptor/local-vms: its agent socket path passed the 107-byte limit.
    const vmsDir = path.join(
      dir,
      "d".repeat(Math.max(1, "/var/lib/cloud-api-adaptor/local-vms".length - dir.length - 1)),
    );
    const deep = new LocalProvider(
      localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: vmsDir }, dir, false),
      pino({ level: "silent" }),
    );
    const name = `podvm-${"p".repeat(30)}-12345678-0123456789abcdef`;
    expect(name).toHaveLength(62);
    const vm = await deep.createVm(request(name, "sb-long"), deadline());
    try {
      await booted(vm.address);
    } finally {
      await deep.deleteVm(vm, deadline());
    }
    expect(await gone(Number(vm.id))).toBe(true);
  });

  it("lists and deletes a running VM whose folder a rollback removed", async () => {
    const vm = await provider.createVm(request("podvm-b", "sb-b"), deadline());
    await booted(vm.address);
    const pgid = Number(vm.id);
    await fs.rm(path.join(dir, "vms", "podvm-b"), { recursive: true, force: true });
    const listed = await provider.listOwnedVms(node);
    expect(listed).toMatchObject([{ name: "podvm-b", owner: vm.owner, address: vm.address }]);
    await provider.deleteVm(listed[0]!, deadline());
    expect(await gone(pgid)).toBe(true);
    expect(await provider.listOwnedVms(node)).toEqual([]);
  });

  it("never signals a recorded process group id that now names another process", async () => {
    const vm = await provider.createVm(request("podvm-c", "sb-c"), deadline());
    // The VM died on its own; the kernel handed its process group id to an unrelated process.
    process.kill(-Number(vm.id), "SIGKILL");
    expect(await gone(Number(vm.id))).toBe(true);
    const stray = await strayGroup();
    const rec = await recordOf("podvm-c");
    await fs.writeFile(path.join(dir, "vms", "podvm-c", "vm.json"), JSON.stringify({ ...rec, pgid: stray }));
    await provider.deleteVm({ id: String(stray), name: "podvm-c", owner: vm.owner }, deadline());
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(stray)).toBe(true);
    await expect(fs.access(path.join(dir, "vms", "podvm-c"))).rejects.toThrow(/ENOENT/);
  });

  it("leaves a VM of another sandbox alone: no create over it, no delete of it", async () => {
    const theirs = await provider.createVm(request("podvm-d", "sb-one"), deadline());
    await booted(theirs.address);
    const err = await provider.createVm(request("podvm-d", "sb-two"), deadline()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toContain("belongs to sandbox sb-one on node node-l of cluster cluster-l/uid-1");
    for (const owner of [
      { ...theirs.owner, sandboxId: "sb-two" },
      { ...theirs.owner, node: "node-x" },
      { ...theirs.owner, cluster: "cluster-l/uid-2" },
    ]) {
      await provider.deleteVm({ id: theirs.id, name: "podvm-d", owner }, deadline());
    }
    expect(alive(Number(theirs.id))).toBe(true);
    expect(await provider.listOwnedVms(node)).toMatchObject([{ name: "podvm-d", owner: theirs.owner }]);
  });
});
