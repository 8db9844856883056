// How big a peer pod's VM must be, from the CPU and memory its containers asked for. The rule
// mirrors how the Kubernetes scheduler adds up a pod, taking each container's larger of request
// and limit (a VM cannot be resized, so it must fit what the containers may use):
//
//   need(c)  = max(request(c), limit(c))                    (absent counts as 0)
//   app      = Σ need(app containers) + Σ need(sidecars)    (sidecar = init container with restartPolicy Always)
//   init     = max over plain init containers i of need(i) + Σ need(sidecars declared before i)
//   pod      = max(app, init)
//
// then vCPUs = pod CPU rounded up to whole cores, memory = pod memory rounded up to whole MiB.
// A resource no container mentions gives no value (the provider's default size applies).

import type { ContainerView, PodView } from "./pod-view.ts";
import { nanosToCores, nanosToMebibytes, parseQuantityNanos, QuantityError } from "./quantity.ts";

export interface VmSize {
  readonly vcpus: number | undefined;
  readonly memoryMiB: number | undefined;
}

type ResourceName = "cpu" | "memory";

function quantity(container: ContainerView, field: "requests" | "limits", resource: ResourceName): bigint {
  const text = container[field][resource];
  if (text === undefined) return 0n;
  try {
    return parseQuantityNanos(text);
  } catch (err) {
    if (err instanceof QuantityError)
      throw new QuantityError(
        `${container.list}[${container.index}] (${container.name}) resources.${field}.${resource}: ${err.message}`,
      );
    throw err;
  }
}

function need(container: ContainerView, resource: ResourceName): bigint {
  const request = quantity(container, "requests", resource);
  const limit = quantity(container, "limits", resource);
  return max(request, limit);
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** The pod's demand for one resource in nano-units, per the rule above. */
export function podDemand(pod: PodView, resource: ResourceName): bigint {
  let sidecars = 0n;
  let initPeak = 0n;
  for (const init of pod.initContainers) {
    if (init.sidecar) sidecars += need(init, resource);
    else initPeak = max(initPeak, need(init, resource) + sidecars);
  }
  let app = sidecars;
  for (const container of pod.containers) app += need(container, resource);
  return max(app, initPeak);
}

function toSafeNumber(value: bigint, what: string): number | undefined {
  if (value === 0n) return undefined;
  if (value > 0xffff_ffffn) throw new QuantityError(`the pod asks for ${value} ${what}, more than any VM has`);
  return Number(value);
}

/** Throws QuantityError when a container's quantity cannot be read. */
export function sizeVm(pod: PodView): VmSize {
  return {
    vcpus: toSafeNumber(nanosToCores(podDemand(pod, "cpu")), "vCPUs"),
    memoryMiB: toSafeNumber(nanosToMebibytes(podDemand(pod, "memory")), "MiB"),
  };
}
