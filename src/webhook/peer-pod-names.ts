// Names the webhook writes or reads on pods, shared with the manifests and the docs. The Kata
// annotations it writes (the VM's size) are in src/kata/annotations.ts.

/** Extended resource each node advertises (PEERPODS_LIMIT_PER_NODE) and each peer pod takes one of. */
export const PEERPOD_VM_RESOURCE = "kata.peerpods.io/vm";

/** Label or annotation users set on a pod to name the VM's instance type; the annotation wins. */
export const INSTANCE_TYPE_KEY = "peerpods.io/instance-type";
