// The Azure resources of one peer VM, all named after the VM so that a create retried after a
// crash finds what the first attempt made, and a delete knows what to remove without state.

/** Azure's limits: VM names 1–64 characters (Linux computer names too), NICs, disks and public
 * IPs 1–80; letters, digits, '-', '_', '.'; starting with a letter or digit, not ending in
 * '.' or '-'. */
const VM_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$/;

export const NIC_SUFFIX = "-nic";
export const OS_DISK_SUFFIX = "-osdisk";
export const PUBLIC_IP_SUFFIX = "-ip";
export const IP_CONFIG_NAME = "ipconfig1";

export interface AzureVmNames {
  readonly vm: string;
  /** The guest's host name: Linux computer names hold no '_' or '.' and end in no '-'. */
  readonly computerName: string;
  readonly nic: string;
  readonly osDisk: string;
  readonly publicIp: string;
}

/** The names for a VM, or undefined when `vmName` is not a valid Azure VM name. */
export function azureVmNames(vmName: string): AzureVmNames | undefined {
  if (!VM_NAME.test(vmName) || /^\d+$/.test(vmName)) return undefined;
  return {
    vm: vmName,
    computerName: vmName.replace(/[_.]/g, "-").replace(/-+$/, ""),
    nic: vmName + NIC_SUFFIX,
    osDisk: vmName + OS_DISK_SUFFIX,
    publicIp: vmName + PUBLIC_IP_SUFFIX,
  };
}
