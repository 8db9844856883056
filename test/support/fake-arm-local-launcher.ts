// Makes the fake Azure endpoint's VMs real: each is a local provider VM (a process group running
// the forwarder and the minimal agent) fed the VM's custom data, reachable on its own 127.x
// address, which the fake reports as the NIC's private IP.
import pino from "pino";
import { localProviderConfig } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import { OWNERSHIP_KEYS, type Ownership } from "../../providers/provider.ts";
import type { VmLauncher } from "./fake-arm-model.ts";

export function localVmLauncher(vmDir: string, stateDir: string): VmLauncher & { readonly local: LocalProvider } {
  const local = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: vmDir }, stateDir, false),
    pino({ level: "silent" }),
  );
  // The fake cloud deletes what it launched: each VM with the marks it was made with.
  const owners = new Map<string, Ownership>();
  return {
    local,
    async launch(vm) {
      const owner = {
        sandboxId: vm.tags[OWNERSHIP_KEYS.sandboxId] ?? vm.name,
        node: vm.tags[OWNERSHIP_KEYS.node] ?? "fake-azure",
        cluster: vm.tags[OWNERSHIP_KEYS.cluster] ?? "fake-azure",
      };
      const resources = {
        instanceType: undefined,
        vcpus: undefined,
        memoryMiB: undefined,
        gpus: undefined,
        image: undefined,
      };
      owners.set(vm.name, owner);
      const made = await local.createVm(
        { name: vm.name, token: `fake-azure-${vm.name}`, owner, resources, userData: vm.userData },
        AbortSignal.timeout(30_000),
      );
      if (made.address === undefined) throw new Error(`local VM ${vm.name} has no address`);
      return { privateIp: made.address };
    },
    async destroy(name) {
      const owner = owners.get(name);
      if (owner === undefined) return;
      await local.deleteVm({ id: undefined, name, owner });
      owners.delete(name);
    },
  };
}
