// The Hypervisor ttrpc service the Kata shim calls (CreateVM/StartVM/StopVM, translated to the
// sandbox manager), and the shim's side of it for peerpod-ctl, tests and benchmarks.
export { type HypervisorServiceOptions, registerHypervisorService, VERSION } from "./hypervisor-service.ts";
export { onHypervisor, type RunPodOptions, runPod } from "./shim-driver.ts";
