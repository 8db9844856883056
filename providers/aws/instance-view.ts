// What the daemon sees of an EC2 instance: its id, the name and ownership from its tags, the
// address the forwarder listens on.
import type { Instance, Tag } from "@aws-sdk/client-ec2";
import { OWNERSHIP_KEYS, type VmInstance } from "../provider.ts";

/** States in which an instance exists and costs money, so the daemon must know of it. */
export const LIVE_STATES: readonly string[] = ["pending", "running", "stopping", "stopped"];

export function tagsOf(tags: readonly Tag[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of tags ?? []) if (t.Key !== undefined) out.set(t.Key, t.Value ?? "");
  return out;
}

/** The address the worker reaches the VM on: public with USE_PUBLIC_IP, else private. */
export function instanceAddress(i: Instance, usePublicIp: boolean): string | undefined {
  const a = usePublicIp ? i.PublicIpAddress : i.PrivateIpAddress;
  return a === undefined || a === "" ? undefined : a;
}

export function toVmInstance(i: Instance, usePublicIp: boolean): VmInstance {
  const tags = tagsOf(i.Tags);
  const id = i.InstanceId ?? "";
  const details: Record<string, string> = {};
  if (i.InstanceType !== undefined) details.instanceType = i.InstanceType;
  if (i.State?.Name !== undefined) details.state = i.State.Name;
  if (i.Placement?.AvailabilityZone !== undefined) details.zone = i.Placement.AvailabilityZone;
  if (i.PrivateIpAddress !== undefined) details.privateIp = i.PrivateIpAddress;
  if (i.PublicIpAddress !== undefined) details.publicIp = i.PublicIpAddress;
  return {
    id,
    name: tags.get("Name") ?? id,
    address: instanceAddress(i, usePublicIp),
    owner: {
      sandboxId: tags.get(OWNERSHIP_KEYS.sandboxId) ?? "",
      node: tags.get(OWNERSHIP_KEYS.node) ?? "",
      cluster: tags.get(OWNERSHIP_KEYS.cluster) ?? "",
    },
    details,
  };
}
