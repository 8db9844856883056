// Names the webhook writes or reads on pods, shared with the manifests and the docs.
import { ANNOTATIONS } from "../kata/annotations.ts";

/** Extended resource each node advertises (PEERPODS_LIMIT_PER_NODE) and each peer pod takes one of. */
export const PEERPOD_VM_RESOURCE = "kata.peerpods.io/vm";

/** Kata annotations the shim forwards to the daemon in CreateVM, which sizes the VM from them. */
export const KATA_VCPUS_ANNOTATION = ANNOTATIONS.vcpus;
export const KATA_MEMORY_ANNOTATION = ANNOTATIONS.memory;
export const KATA_MACHINE_TYPE_ANNOTATION = ANNOTATIONS.machineType;

/** Label or annotation users set on a pod to name the VM's instance type; the annotation wins. */
export const INSTANCE_TYPE_KEY = "peerpods.io/instance-type";
