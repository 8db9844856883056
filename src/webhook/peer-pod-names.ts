// Names the webhook writes or reads on pods, shared with the manifests and the docs.

/** Extended resource each node advertises (PEERPODS_LIMIT_PER_NODE) and each peer pod takes one of. */
export const PEERPOD_VM_RESOURCE = "kata.peerpods.io/vm";

/** Kata annotations the shim forwards to the daemon in CreateVM, which sizes the VM from them. */
export const KATA_VCPUS_ANNOTATION = "io.katacontainers.config.hypervisor.default_vcpus";
export const KATA_MEMORY_ANNOTATION = "io.katacontainers.config.hypervisor.default_memory";
export const KATA_MACHINE_TYPE_ANNOTATION = "io.katacontainers.config.hypervisor.machine_type";

/** Label or annotation users set on a pod to name the VM's instance type; the annotation wins. */
export const INSTANCE_TYPE_KEY = "peerpods.io/instance-type";
