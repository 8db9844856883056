// Which cloud the VM runs on, from the firmware's DMI strings, so only that cloud's metadata
// service is asked (asking absent ones costs boot time in timeouts).
import fs from "node:fs/promises";
import path from "node:path";

export type Platform = "aws" | "azure" | "vsphere" | "other";

/** Azure's fixed chassis asset tag. */
const AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77";

export async function detectPlatform(dmiDir = "/sys/class/dmi/id"): Promise<Platform> {
  const read = (f: string) =>
    fs.readFile(path.join(dmiDir, f), "utf8").then(
      (s) => s.trim(),
      () => "",
    );
  const [vendor, assetTag, biosVendor, biosVersion] = await Promise.all([
    read("sys_vendor"),
    read("chassis_asset_tag"),
    read("bios_vendor"),
    read("bios_version"),
  ]);
  if (assetTag === AZURE_ASSET_TAG) return "azure";
  if (vendor === "Amazon EC2" || /amazon/i.test(biosVendor) || /amazon/i.test(biosVersion)) return "aws";
  if (/^VMware/.test(vendor)) return "vsphere";
  return "other";
}
