// The Azure provider against the fake Azure endpoint, through the real SDK clients: what it
// creates, how a retried create finds its own resources, and how deletes clean up.
import { afterEach, describe, expect, it } from "vitest";
import { type AzureTestBed, azureTestBed, TEST_OWNER } from "../../test/support/azure-test-bed.ts";
import { actOnForeignVm, foreignOwners } from "../../test/support/foreign-vm-survival.ts";
import { ProviderError } from "../provider.ts";

let bed: AzureTestBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const deadline = () => AbortSignal.timeout(15_000);

/** The stored VM, NIC and disk of a VM name, as the fake holds them. */
function stored(b: AzureTestBed, name: string) {
  const m = b.fake.model;
  const vm = m.vms.get(name.toLowerCase());
  return { vm, nic: m.nics.get(`${name}-nic`.toLowerCase()), disk: m.disks.get(`${name}-osdisk`.toLowerCase()) };
}

function counts(b: AzureTestBed) {
  const m = b.fake.model;
  return { vms: m.vms.size, nics: m.nics.size, disks: m.disks.size, publicIps: m.publicIps.size };
}

describe("Azure provider: create", () => {
  it("creates the NIC, then a confidential VM (secure boot off, as upstream's default) that takes its disk and NIC with it, all tagged", async () => {
    bed = await azureTestBed({ env: { TAGS: "team=peerpods,cost-center=42" } });
    const req = bed.request("podvm-web-0123456789ab", { sandboxId: "0123456789abcdef" });
    const vm = await bed.provider.createVm(req, deadline());

    const { vm: v, nic, disk } = stored(bed, req.name);
    expect(vm).toMatchObject({ id: v!.id, name: req.name, address: nic!.privateIp, owner: req.owner });
    expect(vm.details).toMatchObject({
      kind: "vm",
      instanceType: "Standard_DC2as_v5",
      region: "eastus",
      confidential: "true",
    });
    // NIC first, then the VM referencing it.
    const puts = bed.fake.requests.filter((r) => r.method === "PUT").map((r) => r.type);
    expect(puts).toEqual(["networkInterfaces", "virtualMachines"]);

    const props = v!.properties as Record<string, any>;
    expect(props.securityProfile).toEqual({
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: false, vTpmEnabled: true },
    });
    expect(props.storageProfile.osDisk).not.toHaveProperty("diskSizeGB");
    expect(props.storageProfile.osDisk).toMatchObject({
      deleteOption: "Delete",
      managedDisk: { securityProfile: { securityEncryptionType: "VMGuestStateOnly" } },
    });
    expect(props.storageProfile.imageReference).toEqual({ id: bed.fake.model.galleryImageVersionId() });
    expect(props.networkProfile.networkInterfaces).toEqual([
      { id: nic!.id, properties: { primary: true, deleteOption: "Delete" } },
    ]);
    expect(props.osProfile).toMatchObject({
      adminUsername: "peerpod",
      computerName: req.name,
      linuxConfiguration: { disablePasswordAuthentication: true },
    });
    expect(props.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData).toMatch(/^ssh-rsa \S+ peerpod-no-login$/);
    expect(v!.userData).toBe(req.userData);

    const tags = {
      team: "peerpods",
      "cost-center": "42",
      "peerpods.sandbox-id": "0123456789abcdef",
      "peerpods.node": TEST_OWNER.node,
      "peerpods.cluster": TEST_OWNER.cluster,
    };
    expect(v!.tags).toMatchObject(tags);
    expect(nic!.tags).toMatchObject(tags);
    expect(nic!.nsgId).toBe(bed.fake.model.nsgId());
    expect(nic!.subnetId).toBe(bed.fake.model.subnetId());
    // Azure gives the OS disk none of the VM's tags; the provider adds them.
    expect(disk!.tags).toMatchObject(tags);
    expect(disk!.securityType).toBe("VMGuestStateOnly");
  });

  it("turns secure boot on with ENABLE_SECURE_BOOT and sizes the OS disk with ROOT_VOLUME_SIZE", async () => {
    bed = await azureTestBed({ env: { ENABLE_SECURE_BOOT: "true", ROOT_VOLUME_SIZE: "64" } });
    await bed.provider.createVm(bed.request("podvm-secure-1"), deadline());
    const props = stored(bed, "podvm-secure-1").vm!.properties as Record<string, any>;
    expect(props.securityProfile).toEqual({
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
    });
    expect(props.storageProfile.osDisk.diskSizeGB).toBe(64);
  });

  it("creates an ordinary VM with DISABLECVM, on a size without confidential computing", async () => {
    bed = await azureTestBed({ env: { DISABLECVM: "true", AZURE_INSTANCE_SIZE: "Standard_B2s" } });
    const vm = await bed.provider.createVm(bed.request("podvm-plain-1"), deadline());
    const props = stored(bed, "podvm-plain-1").vm!.properties as Record<string, any>;
    expect(props.securityProfile).toBeUndefined();
    expect(props.storageProfile.osDisk.managedDisk.securityProfile).toBeUndefined();
    expect(vm.details).toMatchObject({ instanceType: "Standard_B2s", confidential: "false" });
  });

  it("picks the smallest allowed size that fits the pod, or the one the pod names", async () => {
    bed = await azureTestBed({
      env: { AZURE_INSTANCE_SIZES: "Standard_DC8as_v5,Standard_EC4as_v5,Standard_DC4as_v5,Standard_DC2as_v5" },
    });
    const fit = await bed.provider.createVm(
      bed.request("podvm-fit-1", { resources: { vcpus: 3, memoryMiB: 12_000 } }),
      deadline(),
    );
    expect(fit.details?.instanceType).toBe("Standard_DC4as_v5");
    const big = await bed.provider.createVm(
      bed.request("podvm-fit-2", { resources: { memoryMiB: 20_000 } }),
      deadline(),
    );
    expect(big.details?.instanceType).toBe("Standard_EC4as_v5");
    const named = await bed.provider.createVm(
      bed.request("podvm-fit-3", { resources: { instanceType: "Standard_DC8as_v5", vcpus: 1 } }),
      deadline(),
    );
    expect(named.details?.instanceType).toBe("Standard_DC8as_v5");
    const refused = await bed.provider
      .createVm(bed.request("podvm-fit-4", { resources: { instanceType: "Standard_B2s" } }), deadline())
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as Error).message).toContain("AZURE_INSTANCE_SIZES lists");
    expect(stored(bed, "podvm-fit-4").nic).toBeUndefined();
  });

  it("boots the image the pod's annotation names instead of AZURE_IMAGE_ID", async () => {
    bed = await azureTestBed();
    const image = bed.fake.model.communityImageId();
    await bed.provider.createVm(bed.request("podvm-img-1", { resources: { image } }), deadline());
    expect((stored(bed, "podvm-img-1").vm!.properties as Record<string, any>).storageProfile.imageReference).toEqual({
      communityGalleryImageId: image,
    });
    const bad = await bed.provider
      .createVm(bed.request("podvm-img-2", { resources: { image: "ubuntu:latest" } }), deadline())
      .catch((e: unknown) => e);
    expect((bad as Error).message).toContain('image annotation "ubuntu:latest" is not an Azure image id');
  });

  it("reaches the VM at a public IP with USE_PUBLIC_IP, and the IP goes with the VM", async () => {
    bed = await azureTestBed({ env: { USE_PUBLIC_IP: "true" } });
    const vm = await bed.provider.createVm(bed.request("podvm-pub-1"), deadline());
    const pip = bed.fake.model.publicIps.get("podvm-pub-1-ip")!;
    expect(vm.address).toBe(pip.ipAddress);
    expect(stored(bed, "podvm-pub-1").nic!.publicIp).toEqual({ id: pip.id, deleteOption: "Delete" });
    await bed.provider.deleteVm(vm, deadline());
    expect(counts(bed)).toEqual({ vms: 0, nics: 0, disks: 0, publicIps: 0 });
  });

  it("refuses names Azure cannot hold and user-data beyond 64 KiB, making nothing", async () => {
    bed = await azureTestBed();
    await expect(bed.provider.createVm(bed.request(`podvm-${"x".repeat(60)}`), deadline())).rejects.toThrow(
      /not a valid Azure VM name/,
    );
    await expect(
      bed.provider.createVm(bed.request("podvm-big-1", { userData: "x".repeat(70_000) }), deadline()),
    ).rejects.toThrow(/at most 65535/);
    expect(bed.fake.count("PUT", "networkInterfaces")).toBe(0);
  });

  it("leaves alone a VM of the same name that another sandbox owns", async () => {
    bed = await azureTestBed();
    await bed.provider.createVm(bed.request("podvm-shared-1", { sandboxId: "sandbox-a" }), deadline());
    const err = await bed.provider
      .createVm(bed.request("podvm-shared-1", { sandboxId: "sandbox-b" }), deadline())
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/VM podvm-shared-1 already exists .* belongs to sandbox sandbox-a/);
    expect(stored(bed, "podvm-shared-1").vm!.provisioningState).toBe("Succeeded");
    expect(bed.fake.count("DELETE", "virtualMachines")).toBe(0);
  });
});

describe("Azure provider: a create retried after a crash", () => {
  it("reuses the NIC made before the crash and makes no second one", async () => {
    bed = await azureTestBed();
    const req = bed.request("podvm-crash-nic");
    // The first attempt dies after the NIC: Azure keeps failing the VM PUT until its deadline.
    bed.fake.inject({
      method: "PUT",
      type: "virtualMachines",
      action: { kind: "error", status: 503, code: "ServiceUnavailable", message: "try later" },
      times: 1000,
    });
    const crash = new AbortController();
    const attempt = bed.provider.createVm(req, crash.signal).catch((e: unknown) => e);
    while (!bed.fake.requests.some((r) => r.method === "PUT" && r.type === "virtualMachines" && r.status === 503))
      await new Promise((r) => setTimeout(r, 5));
    crash.abort();
    const first = await attempt;
    expect(first).toBeInstanceOf(ProviderError);
    expect((first as ProviderError).retryable).toBe(true);
    expect((first as Error).message).toContain("deadline reached while creating Azure VM podvm-crash-nic");
    expect(stored(bed, req.name).nic).toBeDefined();
    expect(stored(bed, req.name).vm).toBeUndefined();
    bed.fake.clearFaults();

    const vm = await bed.restarted().createVm(req, deadline());
    expect(vm.address).toBe(stored(bed, req.name).nic!.privateIp);
    expect(bed.fake.count("PUT", "networkInterfaces")).toBe(1);
    expect(counts(bed)).toMatchObject({ vms: 1, nics: 1, disks: 1 });
  });

  it("finds the VM whose PUT was accepted before the crash, and waits for it", async () => {
    bed = await azureTestBed({ fake: { operationMs: 600 } });
    const req = bed.request("podvm-crash-vm");
    const crash = new AbortController();
    const first = bed.provider.createVm(req, crash.signal).catch((e: unknown) => e);
    while (!bed.fake.requests.some((r) => r.method === "PUT" && r.type === "virtualMachines" && r.status === 201))
      await new Promise((r) => setTimeout(r, 5));
    crash.abort();
    expect(await first).toBeInstanceOf(ProviderError);
    expect(stored(bed, req.name).vm!.provisioningState).toBe("Creating");

    const vm = await bed.restarted().createVm(req, deadline());
    expect(vm.id).toBe(stored(bed, req.name).vm!.id);
    expect(stored(bed, req.name).vm!.provisioningState).toBe("Succeeded");
    expect(bed.fake.count("PUT", "virtualMachines")).toBe(1);
    expect(bed.fake.count("PUT", "networkInterfaces")).toBe(1);
  });

  it("returns the finished VM at once when the crash came after the create", async () => {
    bed = await azureTestBed();
    const req = bed.request("podvm-crash-done");
    const made = await bed.provider.createVm(req, deadline());
    const again = await bed.restarted().createVm(req, deadline());
    expect(again).toEqual(made);
    expect(bed.fake.count("PUT", "virtualMachines")).toBe(1);
  });

  it("replaces a VM left by an earlier, rolled-back attempt (another token)", async () => {
    bed = await azureTestBed();
    await bed.provider.createVm(bed.request("podvm-retry-1", { token: "attempt-1" }), deadline());
    const firstId = stored(bed, "podvm-retry-1").vm!.vmId;
    await bed.provider.createVm(
      bed.request("podvm-retry-1", { token: "attempt-2", userData: "#cloud-config\n# second\n" }),
      deadline(),
    );
    const v = stored(bed, "podvm-retry-1").vm!;
    expect(v.vmId).not.toBe(firstId);
    expect(v.userData).toBe("#cloud-config\n# second\n");
    expect(v.tags["peerpods.create-token"]).toBe("attempt-2");
    expect(counts(bed)).toMatchObject({ vms: 1, nics: 1, disks: 1 });
  });
});

describe("Azure provider: delete", () => {
  it("deletes the VM with its NIC and disk, and is idempotent", async () => {
    bed = await azureTestBed();
    const vm = await bed.provider.createVm(bed.request("podvm-del-1"), deadline());
    await bed.provider.deleteVm(vm, deadline());
    expect(counts(bed)).toEqual({ vms: 0, nics: 0, disks: 0, publicIps: 0 });
    await bed.provider.deleteVm(vm, deadline());
    await bed.provider.deleteVm({ id: undefined, name: "podvm-never-made", owner: vm.owner }, deadline());
    await bed.provider.deleteVm({ id: undefined, name: "not a valid azure name!", owner: vm.owner }, deadline());
  });

  it("deletes by name when the create never returned an id", async () => {
    bed = await azureTestBed();
    const vm = await bed.provider.createVm(bed.request("podvm-del-2"), deadline());
    await bed.provider.deleteVm({ id: undefined, name: "podvm-del-2", owner: vm.owner }, deadline());
    expect(counts(bed)).toEqual({ vms: 0, nics: 0, disks: 0, publicIps: 0 });
  });
});

describe("Azure provider: resources of the same name with other marks", () => {
  for (const { what, owner } of foreignOwners(TEST_OWNER)) {
    it(`leaves ${what} VM, NIC and disk alone through StopVM, a rollback and the start-up sweep`, async () => {
      bed = await azureTestBed();
      const name = "podvm-collide-1";
      const theirs = await bed.provider.createVm(bed.request(name, owner), deadline());
      const report = await actOnForeignVm(bed.restarted(), TEST_OWNER, { name, id: theirs.id, owner: theirs.owner });
      expect(report.rolledBack).toHaveLength(1);
      expect(report.finishedStops).toHaveLength(1);
      expect(report.orphansDeleted).toEqual([]);
      const left = stored(bed, name);
      expect([left.vm?.provisioningState, left.nic?.tags["peerpods.node"], left.disk?.tags["peerpods.node"]]).toEqual([
        "Succeeded",
        owner.node,
        owner.node,
      ]);
      expect(bed.fake.requests.filter((r) => r.method === "DELETE")).toEqual([]);
    });
  }

  it("deletes an orphaned NIC or disk by id only when its marks are exactly the given ones", async () => {
    bed = await azureTestBed();
    const name = "podvm-orphans-1";
    const theirs = await bed.provider.createVm(bed.request(name, { cluster: "cluster-2" }), deadline());
    bed.fake.model.abandonVm(name);
    const orphans = (await bed.provider.listOwnedVms({ ...TEST_OWNER, cluster: "cluster-2" }, deadline())).filter(
      (v) => v.details?.kind !== "vm",
    );
    expect(orphans.map((o) => o.details?.kind).sort()).toEqual(["disk", "nic"]);
    for (const o of orphans)
      await bed.provider.deleteVm(
        { id: o.id, name: o.name, owner: { ...theirs.owner, cluster: TEST_OWNER.cluster } },
        deadline(),
      );
    expect(counts(bed)).toEqual({ vms: 0, nics: 1, disks: 1, publicIps: 0 });
    for (const o of orphans) await bed.provider.deleteVm({ id: o.id, name: o.name, owner: theirs.owner }, deadline());
    expect(counts(bed)).toEqual({ vms: 0, nics: 0, disks: 0, publicIps: 0 });
  });

  it("refuses to create over another cluster's leftover disk of the name, and leaves it", async () => {
    bed = await azureTestBed();
    const name = "podvm-disk-left";
    await bed.provider.createVm(bed.request(name, { cluster: "cluster-2" }), deadline());
    bed.fake.model.abandonVm(name);
    bed.fake.model.nics.delete(`${name}-nic`);
    const err = await bed.provider.createVm(bed.request(name), deadline()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      new RegExp(
        `disk ${name}-osdisk already exists .* belongs to sandbox sandbox-${name} on node worker-a of cluster cluster-2`,
      ),
    );
    expect(stored(bed, name).disk?.tags["peerpods.cluster"]).toBe("cluster-2");
    expect(counts(bed)).toEqual({ vms: 0, nics: 0, disks: 1, publicIps: 0 });
  });
});
