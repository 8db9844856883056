// The fake Azure endpoint's VMs made real as local provider VMs: what a full pod on the azure
// provider stands on. The VM boots the user-data the provider sent as custom data, its
// forwarder answers at the address the NIC reports, and deleting the VM stops it.
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { type AzureTestBed, azureTestBed, TEST_OWNER } from "../../test/support/azure-test-bed.ts";
import { localVmLauncher } from "../../test/support/fake-arm-local-launcher.ts";

let bed: AzureTestBed | undefined;
let launcher: ReturnType<typeof localVmLauncher> | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (launcher !== undefined)
    for (const vm of await launcher.local.listOwnedVms(TEST_OWNER)) await launcher.local.deleteVm(vm);
  await bed?.close();
  if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
  bed = launcher = dir = undefined;
});

function connect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      resolve();
    });
    s.once("error", reject);
  });
}

async function waitForListener(host: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect(host, port);
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("Azure provider with local VMs behind the fake endpoint", () => {
  it("boots the custom data, answers at the NIC's address, and stops when the VM is deleted", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "azure-local-"));
    launcher = localVmLauncher(path.join(dir, "vms"), dir);
    bed = await azureTestBed({ fake: { launcher } });
    const port = 15150;
    const userData = buildUserData({
      version: 1,
      sandboxId: "sandbox-local-1",
      listenPort: port,
      tls: undefined,
      podNetwork: undefined,
    });
    const vm = await bed.provider.createVm(
      bed.request("podvm-local-1", { sandboxId: "sandbox-local-1", userData }),
      AbortSignal.timeout(30_000),
    );

    expect(vm.address).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(bed.fake.model.nics.get("podvm-local-1-nic")!.privateIp).toBe(vm.address);
    await waitForListener(vm.address!, port, 15_000);
    const local = await launcher.local.listOwnedVms(TEST_OWNER);
    expect(local.map((v) => [v.name, v.address, v.owner.sandboxId])).toEqual([
      ["podvm-local-1", vm.address, "sandbox-local-1"],
    ]);

    await bed.provider.deleteVm(vm, AbortSignal.timeout(30_000));
    expect(await launcher.local.listOwnedVms(TEST_OWNER)).toEqual([]);
    await expect(connect(vm.address!, port)).rejects.toThrow(/ECONNREFUSED/);
    expect(bed.fake.model.backgroundErrors).toEqual([]);
  });
});
