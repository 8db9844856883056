// Instance-type choice shared by the cloud providers (AWS instance types, Azure VM sizes).
//
// The rule, in order:
//   1. the pod's machine_type annotation wins; when an allowed list is set it must name a listed
//      type (or the default type);
//   2. else, when the pod asked for vCPUs, memory or GPUs and an allowed list is set, the
//      smallest listed type that meets every request;
//   3. else the default type.
// "Smallest" is a total order: fewest vCPUs, then least memory, then fewest GPUs, then the name
// (plain code-unit order, so the choice never depends on the machine's locale). Upstream searched
// a list sorted one way with a test that needs another order, so it could pick a larger type
// than needed; a full scan of the (short) list cannot.

import { ProviderError } from "./provider.ts";

/** What a type offers. */
export interface InstanceTypeSpec {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly gpus: number;
}

/** What the pod asked for; undefined means "no wish". */
export interface InstanceTypeRequest {
  readonly instanceType?: string | undefined;
  readonly vcpus?: number | undefined;
  readonly memoryMiB?: number | undefined;
  readonly gpus?: number | undefined;
}

export interface InstanceTypePolicy {
  /** The allowed types with their sizes; empty means "any type, no choice by size". */
  readonly allowed: readonly InstanceTypeSpec[];
  /** Used when the pod names no type and asks for no size (or no allowed list is set). */
  readonly defaultType: string;
  /** Variable names for messages, e.g. PODVM_INSTANCE_TYPES / PODVM_INSTANCE_TYPE. */
  readonly allowedVariable: string;
  readonly defaultVariable: string;
}

export type InstanceTypeReason = "annotation" | "smallest-fit" | "default";

export interface InstanceTypeChoice {
  readonly name: string;
  readonly reason: InstanceTypeReason;
  /** When chosen by size: the other fitting types, smallest first, to try when the cloud has
   * no capacity for `name`. Empty otherwise: a type the pod or operator named is not swapped. */
  readonly fallbacks: readonly string[];
}

/** The pod's wish cannot be met with the allowed types; names the type or sizes at fault. */
export class InstanceTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstanceTypeError";
  }
}

/** Negative when `a` is smaller than `b` by the documented order. */
export function compareInstanceTypes(a: InstanceTypeSpec, b: InstanceTypeSpec): number {
  if (a.vcpus !== b.vcpus) return a.vcpus - b.vcpus;
  if (a.memoryMiB !== b.memoryMiB) return a.memoryMiB - b.memoryMiB;
  if (a.gpus !== b.gpus) return a.gpus - b.gpus;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** True when the type meets every size the request gives. */
export function fitsRequest(spec: InstanceTypeSpec, req: InstanceTypeRequest): boolean {
  return spec.vcpus >= (req.vcpus ?? 0) && spec.memoryMiB >= (req.memoryMiB ?? 0) && spec.gpus >= (req.gpus ?? 0);
}

/** True when the request carries a size wish (0 counts as none, as the shim sends "0"). */
export function asksForSize(req: InstanceTypeRequest): boolean {
  return (req.vcpus ?? 0) > 0 || (req.memoryMiB ?? 0) > 0 || (req.gpus ?? 0) > 0;
}

/** Every allowed type that fits, smallest first. */
export function fittingTypes(req: InstanceTypeRequest, allowed: readonly InstanceTypeSpec[]): InstanceTypeSpec[] {
  return allowed.filter((t) => fitsRequest(t, req)).sort(compareInstanceTypes);
}

export function chooseInstanceType(req: InstanceTypeRequest, policy: InstanceTypePolicy): InstanceTypeChoice {
  const named = req.instanceType?.trim();
  if (named !== undefined && named !== "") {
    if (policy.allowed.length > 0 && named !== policy.defaultType && !policy.allowed.some((t) => t.name === named)) {
      throw new InstanceTypeError(
        `instance type ${JSON.stringify(named)} (machine_type annotation) is not allowed: ${policy.allowedVariable} lists ${listNames(policy.allowed)}` +
          ` and ${policy.defaultVariable} is ${policy.defaultType}`,
      );
    }
    return { name: named, reason: "annotation", fallbacks: [] };
  }
  if (!asksForSize(req) || policy.allowed.length === 0)
    return { name: policy.defaultType, reason: "default", fallbacks: [] };
  const fits = fittingTypes(req, policy.allowed);
  const best = fits[0];
  if (best === undefined) {
    throw new InstanceTypeError(
      `no type in ${policy.allowedVariable} (${listNames(policy.allowed)}) has ${describeRequest(req)}`,
    );
  }
  return { name: best.name, reason: "smallest-fit", fallbacks: fits.slice(1).map((t) => t.name) };
}

/** chooseInstanceType as every provider answers it: a wish the allowed types cannot meet fails
 * the create with a ProviderError (not retryable: the pod or the settings must change). */
export function chooseProviderInstanceType(req: InstanceTypeRequest, policy: InstanceTypePolicy): InstanceTypeChoice {
  try {
    return chooseInstanceType(req, policy);
  } catch (err) {
    if (err instanceof InstanceTypeError) throw new ProviderError(err.message, { cause: err });
    throw err;
  }
}

function listNames(types: readonly InstanceTypeSpec[]): string {
  return types
    .map((t) => `${t.name} (${t.vcpus} vCPU, ${t.memoryMiB} MiB${t.gpus > 0 ? `, ${t.gpus} GPU` : ""})`)
    .join(", ");
}

function describeRequest(req: InstanceTypeRequest): string {
  const parts: string[] = [];
  if ((req.vcpus ?? 0) > 0) parts.push(`${req.vcpus} vCPUs`);
  if ((req.memoryMiB ?? 0) > 0) parts.push(`${req.memoryMiB} MiB of memory`);
  if ((req.gpus ?? 0) > 0) parts.push(`${req.gpus} GPUs`);
  return `at least ${parts.join(", ")}`;
}
