// The Hypervisor ttrpc service the Kata shim calls (CreateVM/StartVM/StopVM, translated to the
// sandbox manager), and the shim's side of it for peerpod-ctl, tests and benchmarks.
export { registerHypervisorService, VERSION, type HypervisorServiceOptions } from "./hypervisor-service.ts";
export { onHypervisor, runPod, type RunPodOptions } from "./shim-driver.ts";
