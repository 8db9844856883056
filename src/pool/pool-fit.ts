// Which pods a pool VM can serve: those that would get exactly the VM the pool booted. Anything
// measured or fixed at boot (type, image, GPUs, the initdata a confidential VM is started with)
// must be what the pool VMs have; the rest travels in the claim.
import type { ResourceRequest } from "../../providers/provider.ts";

/** Why a StartVM took the cold path (the label of caa_warm_pool_misses_total). */
export const MISS_REASONS = ["instance_type", "size", "gpus", "image", "initdata", "empty", "claim_failed"] as const;

export type MissReason = (typeof MISS_REASONS)[number];

export interface PoolShape {
  /** WARM_POOL_INSTANCE_TYPE; undefined: the provider's default type. */
  readonly instanceType: string | undefined;
  /** The node's INITDATA, which pool VMs boot with. */
  readonly initdata: string | undefined;
}

/** Undefined when the pod fits the pool, else the first reason it does not. */
export function poolMiss(
  shape: PoolShape,
  resources: ResourceRequest,
  initdata: string | undefined,
): MissReason | undefined {
  if (resources.instanceType !== undefined && resources.instanceType !== shape.instanceType) return "instance_type";
  if (resources.gpus !== undefined) return "gpus";
  // A size request picks a type by the provider's own rules: only a pod naming the pool's type
  // (checked above) or asking for nothing is sure to get what a pool VM is.
  if (resources.instanceType === undefined && (resources.vcpus !== undefined || resources.memoryMiB !== undefined))
    return "size";
  if (resources.image !== undefined) return "image";
  if ((initdata ?? "") !== (shape.initdata ?? "")) return "initdata";
  return undefined;
}
