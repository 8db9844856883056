// Pod annotations the Kata shim forwards in CreateVM (wire facts, upstream names): the daemon
// sizes and configures the peer VM from them, providers name them in errors, and the webhook
// writes them.
export const ANNOTATIONS = {
  machineType: "io.katacontainers.config.hypervisor.machine_type",
  vcpus: "io.katacontainers.config.hypervisor.default_vcpus",
  memory: "io.katacontainers.config.hypervisor.default_memory",
  gpus: "io.katacontainers.config.hypervisor.default_gpus",
  image: "io.katacontainers.config.hypervisor.image",
  initdata: "io.katacontainers.config.hypervisor.cc_init_data",
  podName: "io.kubernetes.cri.sandbox-name",
  podNamespace: "io.kubernetes.cri.sandbox-namespace",
} as const;
