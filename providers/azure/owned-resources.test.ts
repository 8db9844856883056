import { afterEach, describe, expect, it } from "vitest";
import { type AzureTestBed, azureTestBed, TEST_OWNER } from "../../test/support/azure-test-bed.ts";

let bed: AzureTestBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const deadline = () => AbortSignal.timeout(15_000);

describe("Azure provider: owned VMs, NICs and disks", () => {
  it("lists this node's VMs and the orphaned NICs, disks and public IPs, across pages, and deletes the orphans", async () => {
    bed = await azureTestBed({ fake: { pageSize: 2 } });
    const m = bed.fake.model;
    const kept = await bed.provider.createVm(bed.request("podvm-own-1"), deadline());
    await bed.provider.createVm(bed.request("podvm-own-2"), deadline());
    await bed.provider.createVm(bed.request("podvm-other-1", { node: "worker-b" }), deadline());
    // podvm-own-2 deleted by hand without its delete options: its NIC and disk stay behind.
    m.abandonVm("podvm-own-2");
    // A public IP of ours that lost its NIC, and a NIC that is not ours at all.
    m.putPublicIp(
      "podvm-own-3-ip",
      {
        location: "eastus",
        tags: {
          "peerpods.sandbox-id": "sandbox-3",
          "peerpods.node": TEST_OWNER.node,
          "peerpods.cluster": TEST_OWNER.cluster,
        },
      },
      "2026-01-01",
    );
    m.putNic(
      "someone-elses-nic",
      {
        location: "eastus",
        properties: { ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: m.subnetId() } } }] },
      },
      "2026-01-01",
    );
    await bed.fake.idle();

    const before = bed.fake.requests.length;
    const owned = await bed.provider.listOwnedVms(TEST_OWNER, deadline());
    const summary = owned.map((v) => [v.details?.kind, v.name, v.owner.sandboxId]).sort();
    expect(summary).toEqual(
      [
        ["disk", "podvm-own-2-osdisk", "sandbox-podvm-own-2"],
        ["nic", "podvm-own-2-nic", "sandbox-podvm-own-2"],
        ["public-ip", "podvm-own-3-ip", "sandbox-3"],
        ["vm", "podvm-own-1", "sandbox-podvm-own-1"],
      ].sort(),
    );
    const vm = owned.find((v) => v.details?.kind === "vm")!;
    expect(vm).toMatchObject({
      id: kept.id,
      address: kept.address,
      details: { instanceType: "Standard_DC2as_v5", provisioningState: "Succeeded" },
    });
    // Four NICs and three disks do not fit one page of two: those lists followed nextLink.
    const lists = bed.fake.requests.slice(before);
    expect(lists.filter((r) => r.type === "networkInterfaces" && r.query.includes("skiptoken")).length).toBe(1);
    expect(lists.filter((r) => r.type === "disks" && r.query.includes("skiptoken")).length).toBe(1);
    expect(lists.filter((r) => r.type === "virtualMachines").length).toBe(1);

    for (const orphan of owned.filter((v) => v.details?.kind !== "vm")) await bed.provider.deleteVm(orphan, deadline());
    expect([...m.nics.keys()].sort()).toEqual(["podvm-other-1-nic", "podvm-own-1-nic", "someone-elses-nic"]);
    expect([...m.disks.keys()].sort()).toEqual(["podvm-other-1-osdisk", "podvm-own-1-osdisk"]);
    expect(m.publicIps.size).toBe(0);
    const after = await bed.provider.listOwnedVms(TEST_OWNER, deadline());
    expect(after.map((v) => v.name)).toEqual(["podvm-own-1"]);
  });

  it("lists a VM whose create failed so reconciliation removes it", async () => {
    bed = await azureTestBed();
    bed.fake.inject({
      method: "PUT",
      type: "virtualMachines",
      action: { kind: "fail-operation", code: "AllocationFailed", message: "Allocation failed." },
    });
    // The daemon died right after Azure accepted the create: nobody cleaned up.
    const crash = new AbortController();
    const attempt = bed.provider.createVm(bed.request("podvm-own-4"), crash.signal).catch((e: unknown) => e);
    while (!bed.fake.requests.some((r) => r.method === "PUT" && r.type === "virtualMachines" && r.status === 201))
      await new Promise((r) => setTimeout(r, 5));
    crash.abort();
    await attempt;
    await bed.fake.idle();
    const owned = await bed.provider.listOwnedVms(TEST_OWNER, deadline());
    expect(owned.map((v) => [v.name, v.details?.provisioningState])).toEqual([["podvm-own-4", "Failed"]]);
    await bed.provider.deleteVm(owned[0]!, deadline());
    const m = bed.fake.model;
    expect([m.vms.size, m.nics.size, m.disks.size]).toEqual([0, 0, 0]);
  });
});
