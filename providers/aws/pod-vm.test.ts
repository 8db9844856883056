// A peer VM on the aws provider that really boots: the fake EC2 endpoint backs each instance
// with a local provider VM started from the instance's user-data, so the forwarder the daemon
// configured listens on the instance's private IP; terminating the instance stops the VM.
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { awsEnv, awsProvider, deadline, vmRequest } from "../../test/support/aws-fixture.ts";
import { FakeEc2 } from "../../test/support/fake-ec2.ts";
import { localVmLauncher } from "../../test/support/fake-ec2-local-launcher.ts";
import { USER_DATA_FILE } from "../local/vm-record.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("AWS provider with instances backed by local VMs", () => {
  it("boots the VM from the same user-data, reaches its forwarder on the private IP, and stops it on deleteVm", async () => {
    const vmsDir = await fs.mkdtemp(path.join(os.tmpdir(), "aws-local-vms-"));
    cleanups.push(() => fs.rm(vmsDir, { recursive: true, force: true }));
    const launcher = localVmLauncher(vmsDir, pino({ level: "silent" }));
    const fake = await FakeEc2.start({ launcher, bootDelayMs: 100 });
    cleanups.push(() => fake.close());
    const p = awsProvider(awsEnv(fake));
    cleanups.push(() => p.close());

    // An unusual port: the VM can only listen there if it read the daemon's user-data.
    const port = 15_000 + (process.pid % 1000);
    const userData = buildUserData({
      version: 1,
      sandboxId: "sandbox-pod-1",
      listenPort: port,
      tls: undefined,
      podNetwork: undefined,
    });
    const req = vmRequest(1, {
      userData,
      owner: { sandboxId: "sandbox-pod-1", node: "worker-1", cluster: "cluster-a" },
    });

    await p.check(deadline());
    const vm = await p.createVm(req, deadline(60_000));
    expect(vm.address).toMatch(/^127\./);
    expect(fake.instance(vm.id)!.privateIp).toBe(vm.address);

    // The local VM behind the instance got byte-for-byte the user-data the daemon built.
    expect(await fs.readFile(path.join(vmsDir, vm.id, USER_DATA_FILE), "utf8")).toBe(userData);
    await eventually(() => connects(vm.address!, port));
    const [local] = await launcher.local.listOwnedVms({ node: "worker-1", cluster: "cluster-a" });
    expect(local).toMatchObject({ name: vm.id, address: vm.address, owner: req.owner });

    await p.deleteVm(vm, deadline());
    await fake.settle();
    await eventually(async () => fake.instance(vm.id)!.state === "terminated");
    expect(await connects(vm.address!, port)).toBe(false);
    await expect(fs.access(path.join(vmsDir, vm.id))).rejects.toThrow(/ENOENT/);
    expect(await launcher.local.listOwnedVms({ node: "worker-1", cluster: "cluster-a" })).toEqual([]);
    expect(fake.launcherErrors()).toEqual([]);
  });
});
