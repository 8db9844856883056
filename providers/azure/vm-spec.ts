// The request bodies for one peer VM: its tags, its NIC, its optional public IP and the VM.
// Pure functions of the configuration and the request, so they are checked without Azure.
import type { VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface, PublicIPAddress } from "@azure/arm-network";
import { OWNERSHIP_KEYS, type Ownership } from "../provider.ts";
import type { AzureVmNames } from "./names.ts";
import { IP_CONFIG_NAME } from "./names.ts";
import type { ImageRef } from "./resource-id.ts";

/** Tag holding the create token: a VM made by an earlier, rolled-back attempt is not reused. */
export const TOKEN_TAG = "peerpods.create-token";

/** OS disk type: the image's boot disk; Standard SSD is the cheapest disk CVMs accept. */
export const OS_DISK_TYPE = "StandardSSD_LRS";

export function ownershipTags(
  owner: Ownership,
  extra: ReadonlyMap<string, string>,
  token?: string,
): Record<string, string> {
  const tags: Record<string, string> = Object.fromEntries(extra);
  tags[OWNERSHIP_KEYS.sandboxId] = owner.sandboxId;
  tags[OWNERSHIP_KEYS.node] = owner.node;
  tags[OWNERSHIP_KEYS.cluster] = owner.cluster;
  if (token !== undefined) tags[TOKEN_TAG] = token;
  return tags;
}

/** Reads the ownership back from a resource's tags (Azure keeps tag names' case loosely). */
export function ownerFromTags(tags: Readonly<Record<string, string>> | undefined): Ownership | undefined {
  if (tags === undefined) return undefined;
  const get = (key: string): string | undefined => {
    for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === key) return v;
    return undefined;
  };
  const sandboxId = get(OWNERSHIP_KEYS.sandboxId);
  const node = get(OWNERSHIP_KEYS.node);
  const cluster = get(OWNERSHIP_KEYS.cluster);
  if (sandboxId === undefined || node === undefined || cluster === undefined) return undefined;
  return { sandboxId, node, cluster };
}

export function tokenFromTags(tags: Readonly<Record<string, string>> | undefined): string | undefined {
  for (const [k, v] of Object.entries(tags ?? {})) if (k.toLowerCase() === TOKEN_TAG) return v;
  return undefined;
}

export interface PublicIpSpecInput {
  readonly location: string;
  readonly tags: Record<string, string>;
}

export function publicIpSpec(input: PublicIpSpecInput): PublicIPAddress {
  return {
    location: input.location,
    tags: input.tags,
    sku: { name: "Standard" },
    publicIPAllocationMethod: "Static",
    publicIPAddressVersion: "IPv4",
  };
}

export interface NicSpecInput {
  readonly location: string;
  readonly subnetId: string;
  readonly nsgId: string | undefined;
  readonly publicIpId: string | undefined;
  readonly tags: Record<string, string>;
}

export function nicSpec(input: NicSpecInput): NetworkInterface {
  return {
    location: input.location,
    tags: input.tags,
    ipConfigurations: [
      {
        name: IP_CONFIG_NAME,
        primary: true,
        privateIPAllocationMethod: "Dynamic",
        subnet: { id: input.subnetId },
        // The public IP goes when the NIC goes (the NIC itself goes with the VM).
        ...(input.publicIpId === undefined
          ? {}
          : { publicIPAddress: { id: input.publicIpId, deleteOption: "Delete" } }),
      },
    ],
    ...(input.nsgId === undefined ? {} : { networkSecurityGroup: { id: input.nsgId } }),
  };
}

export interface VmSpecInput {
  readonly location: string;
  readonly names: AzureVmNames;
  readonly size: string;
  readonly image: ImageRef;
  readonly nicId: string;
  readonly adminUsername: string;
  readonly sshPublicKey: string;
  /** The user-data as text; Azure wants it base64 in customData. */
  readonly userData: string;
  readonly confidential: boolean;
  /** UEFI secure boot, for confidential VMs (upstream applies it nowhere else). */
  readonly secureBoot: boolean;
  /** OS disk size; undefined keeps the image's. */
  readonly osDiskSizeGiB: number | undefined;
  readonly tags: Record<string, string>;
}

export function vmSpec(input: VmSpecInput): VirtualMachine {
  return {
    location: input.location,
    tags: input.tags,
    hardwareProfile: { vmSize: input.size },
    storageProfile: {
      imageReference: imageReference(input.image),
      osDisk: {
        name: input.names.osDisk,
        osType: "Linux",
        createOption: "FromImage",
        caching: "ReadWrite",
        // The disk is the VM's: deleting the VM deletes it, so nothing is left behind.
        deleteOption: "Delete",
        ...(input.osDiskSizeGiB === undefined ? {} : { diskSizeGB: input.osDiskSizeGiB }),
        managedDisk: {
          storageAccountType: OS_DISK_TYPE,
          ...(input.confidential ? { securityProfile: { securityEncryptionType: "VMGuestStateOnly" } } : {}),
        },
      },
    },
    osProfile: {
      computerName: input.names.computerName,
      adminUsername: input.adminUsername,
      customData: Buffer.from(input.userData, "utf8").toString("base64"),
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: {
          publicKeys: [{ path: `/home/${input.adminUsername}/.ssh/authorized_keys`, keyData: input.sshPublicKey }],
        },
      },
    },
    networkProfile: { networkInterfaces: [{ id: input.nicId, primary: true, deleteOption: "Delete" }] },
    ...(input.confidential
      ? {
          securityProfile: {
            securityType: "ConfidentialVM",
            uefiSettings: { secureBootEnabled: input.secureBoot, vTpmEnabled: true },
          },
        }
      : {}),
  };
}

export function imageReference(image: ImageRef): {
  id?: string;
  communityGalleryImageId?: string;
  sharedGalleryImageId?: string;
} {
  switch (image.kind) {
    case "community-gallery":
      return { communityGalleryImageId: image.id };
    case "shared-gallery":
      return { sharedGalleryImageId: image.id };
    default:
      return { id: image.id };
  }
}
