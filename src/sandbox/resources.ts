import type { ResourceRequest } from "../../providers/provider.ts";
import { ANNOTATIONS } from "../kata/annotations.ts";
import { SandboxError } from "./sandbox-error.ts";

/**
 * Reads the pod's resource wishes. The shim always sends these keys, with "" or "0" when the
 * pod asked for nothing: both mean "not given". Anything else that is not a whole number is
 * an error naming the annotation, never a silent default.
 */
export function resourcesFromAnnotations(annotations: Readonly<Record<string, string>>): ResourceRequest {
  return {
    instanceType: text(annotations[ANNOTATIONS.machineType]),
    vcpus: count(annotations, ANNOTATIONS.vcpus, 1024),
    memoryMiB: count(annotations, ANNOTATIONS.memory, 16 * 1024 * 1024),
    gpus: count(annotations, ANNOTATIONS.gpus, 64),
    image: text(annotations[ANNOTATIONS.image]),
  };
}

function text(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
}

function count(annotations: Readonly<Record<string, string>>, key: string, max: number): number | undefined {
  const raw = text(annotations[key]);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new SandboxError("invalid-argument", `annotation ${key}=${JSON.stringify(raw)}: expected a whole number`);
  const n = Number(raw);
  if (n > max) throw new SandboxError("invalid-argument", `annotation ${key}=${raw}: larger than ${max}`);
  return n === 0 ? undefined : n;
}
