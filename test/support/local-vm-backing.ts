// Makes a fake cloud's VMs real (fake Azure, fake Compute Engine, fake EC2, the vCenter
// simulator): each is a local provider VM, a process group running the forwarder and the minimal
// agent, booted from the VM's own user-data and reachable on its own 127.x address, which the fake
// reports as the VM's address. So a pod on a cloud provider really reaches a forwarder and an agent.
import type { Logger } from "pino";
import { localProviderConfig } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import { NO_RESOURCES, type Ownership, type ResourceRequest } from "../../providers/provider.ts";

/** What the fake cloud knows of a VM it launches. */
export interface BackedVm {
  readonly name: string;
  /** The create token the local provider makes the VM idempotent by. */
  readonly token: string;
  readonly owner: Ownership;
  readonly userData: string;
  readonly resources?: Partial<ResourceRequest>;
}

export interface LocalVmBacking {
  /** The local provider behind the VMs, to look at them. */
  readonly local: LocalProvider;
  /** Boots the local VM for `vm`; its address. */
  boot(vm: BackedVm, signal: AbortSignal): Promise<string>;
  /** Deletes the local VM of `name` (with the marks it was made with), if one was booted. */
  remove(name: string): Promise<void>;
}

/** `vmDir` holds the local VMs, `stateDir` the local provider's state. */
export function localVmBacking(vmDir: string, stateDir: string, logger: Logger): LocalVmBacking {
  const local = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: vmDir }, stateDir, false),
    logger,
  );
  // The fake cloud deletes what it launched: each VM with the marks it was made with.
  const owners = new Map<string, Ownership>();
  return {
    local,
    async boot(vm, signal) {
      owners.set(vm.name, vm.owner);
      const made = await local.createVm(
        {
          name: vm.name,
          token: vm.token,
          owner: vm.owner,
          resources: { ...NO_RESOURCES, ...vm.resources },
          userData: vm.userData,
        },
        signal,
      );
      if (made.address === undefined) throw new Error(`local VM ${vm.name} has no address`);
      return made.address;
    },
    async remove(name) {
      const owner = owners.get(name);
      if (owner === undefined) return;
      await local.deleteVm({ id: undefined, name, owner });
      owners.delete(name);
    },
  };
}
