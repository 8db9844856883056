// Backs the fake EC2 endpoint's instances with local provider VMs: each launched instance boots
// a local VM from the instance's user-data (forwarder and minimal agent on a 127.x address),
// which becomes the instance's private IP; terminating the instance deletes the VM. So a pod on
// the aws provider really reaches a forwarder and an agent.
import type { Logger } from "pino";
import { localProviderConfig } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import { OWNERSHIP_KEYS, type Ownership } from "../../providers/provider.ts";
import type { LaunchRequest, VmLauncher } from "./fake-ec2.ts";

export interface LocalVmLauncher extends VmLauncher {
  /** The local provider behind the instances, to look at its VMs. */
  readonly local: LocalProvider;
}

/** `vmsDir` holds the local VMs (one folder per instance id). */
export function localVmLauncher(vmsDir: string, logger: Logger, timeoutMs = 30_000): LocalVmLauncher {
  const local = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: vmsDir }, vmsDir, false),
    logger,
  );
  // The fake cloud terminates what it launched: each VM with the marks it was made with.
  const owners = new Map<string, Ownership>();
  return {
    local,
    async launch(req: LaunchRequest) {
      await local.check();
      const owner = {
        sandboxId: req.tags[OWNERSHIP_KEYS.sandboxId] ?? "",
        node: req.tags[OWNERSHIP_KEYS.node] ?? "",
        cluster: req.tags[OWNERSHIP_KEYS.cluster] ?? "",
      };
      owners.set(req.instanceId, owner);
      const vm = await local.createVm(
        {
          name: req.instanceId,
          token: req.clientToken === "" ? req.instanceId : req.clientToken,
          owner,
          resources: {
            instanceType: req.instanceType,
            vcpus: undefined,
            memoryMiB: undefined,
            gpus: undefined,
            image: req.imageId,
          },
          userData: req.userData,
        },
        AbortSignal.timeout(timeoutMs),
      );
      if (vm.address === undefined) throw new Error(`local VM for ${req.instanceId} has no address`);
      return { privateIp: vm.address };
    },
    async terminate(instanceId: string) {
      const owner = owners.get(instanceId);
      if (owner === undefined) return;
      await local.deleteVm({ id: undefined, name: instanceId, owner });
      owners.delete(instanceId);
    },
  };
}
