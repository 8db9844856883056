// What this node owns in the resource group: its VMs, and the NICs, disks and public IPs of
// ours that no VM uses any more (left behind by a crash or a VM deleted by hand). Those are
// reported as VmInstance entries too, with details.kind saying what they are, so the
// daemon's reconciliation deletes them like any unclaimed VM.

import type { Ownership, VmInstance } from "../provider.ts";
import type { AzureClients } from "./azure-clients.ts";
import { sameArmId } from "./resource-id.ts";
import { ownerFromTags } from "./vm-spec.ts";

export type OwnedKind = "vm" | "nic" | "disk" | "public-ip";

interface Tagged {
  readonly id?: string;
  readonly name?: string;
  readonly tags?: Record<string, string>;
}

export async function listOwnedResources(
  clients: AzureClients,
  resourceGroup: string,
  owner: Omit<Ownership, "sandboxId">,
  signal: AbortSignal,
): Promise<VmInstance[]> {
  const compute = clients.computeFor();
  const network = clients.networkFor();
  const options = { abortSignal: signal };
  const [vms, nics, disks, ips] = await Promise.all([
    collect(compute.virtualMachines.list(resourceGroup, options)),
    collect(network.networkInterfaces.list(resourceGroup, options)),
    collect(compute.disks.listByResourceGroup(resourceGroup, options)),
    collect(network.publicIPAddresses.list(resourceGroup, options)),
  ]);
  const mine = (r: Tagged): Ownership | undefined => {
    const o = ownerFromTags(r.tags);
    return o !== undefined && o.node === owner.node && o.cluster === owner.cluster ? o : undefined;
  };
  const out: VmInstance[] = [];
  for (const vm of vms) {
    const o = mine(vm);
    if (o === undefined || vm.id === undefined || vm.name === undefined) continue;
    const nic = nics.find((n) => sameArmId(n.virtualMachine?.id, vm.id));
    const ipConfig = nic?.ipConfigurations?.find((c) => c.primary === true) ?? nic?.ipConfigurations?.[0];
    const publicIp = ips.find(
      (ip) => ipConfig?.publicIPAddress?.id !== undefined && sameArmId(ip.id, ipConfig.publicIPAddress.id),
    );
    out.push({
      id: vm.id,
      name: vm.name,
      address: publicIp?.ipAddress ?? ipConfig?.privateIPAddress,
      owner: o,
      details: {
        kind: "vm",
        instanceType: vm.hardwareProfile?.vmSize ?? "",
        provisioningState: vm.provisioningState ?? "",
      },
    });
  }
  const orphan = (kind: OwnedKind, r: Tagged, inUse: boolean) => {
    const o = mine(r);
    if (o === undefined || inUse || r.id === undefined || r.name === undefined) return;
    out.push({ id: r.id, name: r.name, address: undefined, owner: o, details: { kind } });
  };
  for (const nic of nics) orphan("nic", nic, nic.virtualMachine?.id !== undefined);
  for (const disk of disks) orphan("disk", disk, disk.managedBy !== undefined && disk.managedBy !== "");
  for (const ip of ips) orphan("public-ip", ip, ip.ipConfiguration?.id !== undefined);
  return out;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
