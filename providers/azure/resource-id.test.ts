import { describe, expect, it } from "vitest";
import { armId, parseArmId, parseImageId, parseNsgId, parseSubnetId, sameArmId } from "./resource-id.ts";

const SUB = "0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a";

describe("Azure resource ids", () => {
  it("splits an id into subscription, group, namespace, types and names", () => {
    const ref = parseArmId(
      `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/s1/`,
    );
    expect(ref).toEqual({
      id: `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/s1`,
      subscriptionId: SUB,
      resourceGroup: "rg1",
      namespace: "Microsoft.Network",
      types: ["virtualNetworks", "subnets"],
      names: ["v1", "s1"],
    });
    expect(parseArmId(`/subscriptions/${SUB}/resourceGroups/rg1`)).toBeUndefined();
    expect(
      parseArmId(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks`),
    ).toBeUndefined();
    expect(
      parseArmId(`subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1`),
    ).toBeUndefined();
    expect(
      parseArmId(`/subscriptions/${SUB}/resourceGroups//providers/Microsoft.Network/virtualNetworks/v1`),
    ).toBeUndefined();
  });

  it("reads subnets and NSGs whatever the case of the path words", () => {
    expect(
      parseSubnetId(`/SUBSCRIPTIONS/${SUB}/resourcegroups/RG/providers/microsoft.network/VIRTUALNETWORKS/v/Subnets/s`),
    ).toMatchObject({ virtualNetwork: "v", subnet: "s", resourceGroup: "RG" });
    expect(
      parseSubnetId(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n`),
    ).toBeUndefined();
    expect(
      parseNsgId(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n`),
    ).toMatchObject({ name: "n" });
  });

  it("tells the image forms apart", () => {
    const rg = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute`;
    const forms: [string, Record<string, string>][] = [
      [`${rg}/images/podvm`, { kind: "managed-image", name: "podvm" }],
      [`${rg}/galleries/g/images/i`, { kind: "gallery-image", gallery: "g", image: "i" }],
      [`${rg}/galleries/g/images/i/versions/1.2.3`, { kind: "gallery-image-version", version: "1.2.3" }],
      ["/CommunityGalleries/cg-1/Images/i/Versions/2024.1.0", { kind: "community-gallery", gallery: "cg-1" }],
      ["/sharedGalleries/sg-1/images/i/versions/1.0.0", { kind: "shared-gallery", gallery: "sg-1" }],
    ];
    for (const [id, form] of forms) expect(parseImageId(id), id).toMatchObject(form);
    expect(parseImageId(`${rg}/disks/d1`)).toBeUndefined();
    expect(parseImageId("Canonical:0001-com-ubuntu:22_04:latest")).toBeUndefined();
  });

  it("builds and compares ids as Azure does, without regard to case", () => {
    const id = armId(SUB, "rg", "Microsoft.Compute", "virtualMachines", "vm1");
    expect(id).toBe(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`);
    expect(sameArmId(id, `${id.toUpperCase()}/`)).toBe(true);
    expect(sameArmId(id, id.replace("vm1", "vm2"))).toBe(false);
    expect(sameArmId(undefined, id)).toBe(false);
  });
});
