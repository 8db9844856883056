import { describe, expect, it } from "vitest";
import { azureVmNames } from "./names.ts";
import { parseImageId } from "./resource-id.ts";
import { nicSpec, ownerFromTags, ownershipTags, tokenFromTags, type VmSpecInput, vmSpec } from "./vm-spec.ts";

const SUB = "0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a";
const owner = { sandboxId: "sb-1", node: "worker-1", cluster: "prod" };
const input: VmSpecInput = {
  location: "eastus",
  names: azureVmNames("podvm-web-0123456789ab")!,
  size: "Standard_DC2as_v5",
  image: parseImageId(
    `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0`,
  )!,
  nicId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/podvm-web-0123456789ab-nic`,
  adminUsername: "peerpod",
  sshPublicKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 k",
  userData: "#cloud-config\nwrite_files: []\n",
  confidential: true,
  secureBoot: true,
  osDiskSizeGiB: undefined,
  tags: ownershipTags(owner, new Map([["team", "a"]]), "tok-1"),
};

describe("peer VM request bodies", () => {
  it("asks for a confidential VM with vTPM and secure boot, deleting its disk and NIC with it", () => {
    const vm = vmSpec(input);
    expect(vm.securityProfile).toEqual({
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
    });
    expect(vm.storageProfile?.osDisk).toMatchObject({
      name: "podvm-web-0123456789ab-osdisk",
      createOption: "FromImage",
      deleteOption: "Delete",
    });
    expect(vm.storageProfile?.osDisk?.managedDisk?.securityProfile).toEqual({
      securityEncryptionType: "VMGuestStateOnly",
    });
    expect(vm.networkProfile?.networkInterfaces).toEqual([{ id: input.nicId, primary: true, deleteOption: "Delete" }]);
    expect(vm.storageProfile?.imageReference).toEqual({ id: input.image.id });
  });

  it("disables password login and carries the user-data base64-encoded", () => {
    const vm = vmSpec(input);
    expect(vm.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(true);
    expect(vm.osProfile?.linuxConfiguration?.ssh?.publicKeys).toEqual([
      { path: "/home/peerpod/.ssh/authorized_keys", keyData: input.sshPublicKey },
    ]);
    expect(Buffer.from(vm.osProfile!.customData!, "base64").toString()).toBe(input.userData);
  });

  it("turns secure boot off when not asked for (upstream's default) and sizes the OS disk only when ROOT_VOLUME_SIZE is set", () => {
    const vm = vmSpec({ ...input, secureBoot: false, osDiskSizeGiB: 64 });
    expect(vm.securityProfile).toEqual({
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: false, vTpmEnabled: true },
    });
    expect(vm.storageProfile?.osDisk?.diskSizeGB).toBe(64);
    expect(vmSpec(input).storageProfile?.osDisk).not.toHaveProperty("diskSizeGB");
  });

  it("leaves out every confidential setting with DISABLECVM", () => {
    const vm = vmSpec({ ...input, confidential: false });
    expect(vm.securityProfile).toBeUndefined();
    expect(vm.storageProfile?.osDisk?.managedDisk?.securityProfile).toBeUndefined();
  });

  it("references community and shared gallery images by their own fields", () => {
    expect(
      vmSpec({ ...input, image: parseImageId("/CommunityGalleries/c/Images/i/Versions/1")! }).storageProfile
        ?.imageReference,
    ).toEqual({ communityGalleryImageId: "/CommunityGalleries/c/Images/i/Versions/1" });
    expect(
      vmSpec({ ...input, image: parseImageId("/SharedGalleries/s/Images/i/Versions/1")! }).storageProfile
        ?.imageReference,
    ).toEqual({ sharedGalleryImageId: "/SharedGalleries/s/Images/i/Versions/1" });
  });

  it("tags ownership (plus TAGS) and reads it back", () => {
    expect(input.tags).toEqual({
      team: "a",
      "peerpods.sandbox-id": "sb-1",
      "peerpods.node": "worker-1",
      "peerpods.cluster": "prod",
      "peerpods.create-token": "tok-1",
    });
    expect(ownerFromTags(input.tags)).toEqual(owner);
    expect(ownerFromTags({ "Peerpods.Sandbox-Id": "x", "peerpods.node": "n", "PEERPODS.CLUSTER": "c" })).toEqual({
      sandboxId: "x",
      node: "n",
      cluster: "c",
    });
    expect(ownerFromTags({ "peerpods.node": "n" })).toBeUndefined();
    expect(tokenFromTags(input.tags)).toBe("tok-1");
  });

  it("puts the NIC on the subnet with the NSG and, when asked, a public IP that goes with it", () => {
    const nic = nicSpec({ location: "eastus", subnetId: "/s/subnet", nsgId: "/s/nsg", publicIpId: "/s/ip", tags: {} });
    expect(nic.networkSecurityGroup).toEqual({ id: "/s/nsg" });
    expect(nic.ipConfigurations?.[0]).toMatchObject({
      subnet: { id: "/s/subnet" },
      privateIPAllocationMethod: "Dynamic",
      publicIPAddress: { id: "/s/ip", deleteOption: "Delete" },
    });
    expect(
      nicSpec({ location: "eastus", subnetId: "/s/subnet", nsgId: undefined, publicIpId: undefined, tags: {} })
        .networkSecurityGroup,
    ).toBeUndefined();
  });
});
