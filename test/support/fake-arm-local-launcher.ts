// Makes the fake Azure endpoint's VMs real (see local-vm-backing.ts): each is a local provider VM
// fed the VM's custom data, whose address the fake reports as the NIC's private IP.
import pino from "pino";
import type { LocalProvider } from "../../providers/local/provider.ts";
import { OWNERSHIP_KEYS } from "../../providers/provider.ts";
import type { VmLauncher } from "./fake-arm-model.ts";
import { localVmBacking } from "./local-vm-backing.ts";

export function localVmLauncher(vmDir: string, stateDir: string): VmLauncher & { readonly local: LocalProvider } {
  const backing = localVmBacking(vmDir, stateDir, pino({ level: "silent" }));
  return {
    local: backing.local,
    async launch(vm) {
      const owner = {
        sandboxId: vm.tags[OWNERSHIP_KEYS.sandboxId] ?? vm.name,
        node: vm.tags[OWNERSHIP_KEYS.node] ?? "fake-azure",
        cluster: vm.tags[OWNERSHIP_KEYS.cluster] ?? "fake-azure",
      };
      const token = `fake-azure-${vm.name}`;
      const address = await backing.boot(
        { name: vm.name, token, owner, userData: vm.userData },
        AbortSignal.timeout(30_000),
      );
      return { privateIp: address };
    },
    destroy: (name) => backing.remove(name),
  };
}
