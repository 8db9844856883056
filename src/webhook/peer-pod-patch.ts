// The mutation of a peer pod: its containers run in a VM elsewhere, so the worker node must not
// reserve their CPU and memory. The webhook moves those amounts into Kata annotations (the VM is
// sized from them), makes the pod take one kata.peerpods.io/vm (the per-node cap), and passes a
// user's instance type on to Kata.

import { ANNOTATIONS } from "../kata/annotations.ts";
import type { JsonPatchOperation } from "./json-patch.ts";
import { pointer } from "./json-pointer.ts";
import { INSTANCE_TYPE_KEY, PEERPOD_VM_RESOURCE } from "./peer-pod-names.ts";
import type { ContainerView, PodView } from "./pod-view.ts";
import { sizeVm } from "./vm-sizing.ts";

const STRIPPED: ReadonlySet<string> = new Set(["cpu", "memory"]);

function withoutCpuMemory(map: Readonly<Record<string, string>>, addVm: boolean): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) if (!STRIPPED.has(key)) out[key] = value;
  if (addVm) out[PEERPOD_VM_RESOURCE] = "1";
  return Object.keys(out).length === 0 ? undefined : out;
}

// The container's resources after the mutation; other fields of `resources` (claims, …) stay.
function newResources(container: ContainerView, addVm: boolean): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = { ...container.resources };
  delete out.requests;
  delete out.limits;
  const requests = withoutCpuMemory(container.requests, addVm);
  const limits = withoutCpuMemory(container.limits, addVm);
  if (requests !== undefined) out.requests = requests;
  if (limits !== undefined) out.limits = limits;
  return Object.keys(out).length === 0 ? undefined : out;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

function containerOps(container: ContainerView, addVm: boolean): JsonPatchOperation[] {
  const path = pointer("spec", container.list, container.index, "resources");
  const after = newResources(container, addVm);
  if (after === undefined) return container.resources === undefined ? [] : [{ op: "remove", path }];
  if (container.resources === undefined) return [{ op: "add", path, value: after }];
  return sameJson(after, container.resources) ? [] : [{ op: "replace", path, value: after }];
}

// Annotations the webhook would add; a value the pod already carries is the user's and stays.
function wantedAnnotations(pod: PodView): Record<string, string> {
  const wanted: Record<string, string> = {};
  const size = sizeVm(pod);
  if (size.vcpus !== undefined) wanted[ANNOTATIONS.vcpus] = String(size.vcpus);
  if (size.memoryMiB !== undefined) wanted[ANNOTATIONS.memory] = String(size.memoryMiB);
  const instanceType = pod.annotations?.[INSTANCE_TYPE_KEY] ?? pod.labels?.[INSTANCE_TYPE_KEY];
  if (instanceType !== undefined && instanceType !== "") wanted[ANNOTATIONS.machineType] = instanceType;
  for (const key of Object.keys(wanted))
    if (pod.annotations?.[key] !== undefined && pod.annotations[key] !== "") delete wanted[key];
  return wanted;
}

function annotationOps(pod: PodView, wanted: Record<string, string>): JsonPatchOperation[] {
  if (Object.keys(wanted).length === 0) return [];
  if (!pod.hasMetadata) return [{ op: "add", path: "/metadata", value: { annotations: wanted } }];
  if (pod.annotations === undefined) return [{ op: "add", path: "/metadata/annotations", value: wanted }];
  // "add" on an existing member replaces it (an empty value the user left).
  return Object.entries(wanted).map(([key, value]) => ({
    op: "add",
    path: pointer("metadata", "annotations", key),
    value,
  }));
}

/**
 * The JSONPatch that turns a peer pod into what the worker should schedule. Throws
 * QuantityError when a container's CPU or memory cannot be read.
 */
export function peerPodPatch(pod: PodView): JsonPatchOperation[] {
  // Sized before any resource is touched, from what the user asked.
  const annotations = annotationOps(pod, wantedAnnotations(pod));
  const resources = [
    ...pod.initContainers.flatMap((c) => containerOps(c, false)),
    ...pod.containers.flatMap((c, i) => containerOps(c, i === 0)),
  ];
  return [...annotations, ...resources];
}
