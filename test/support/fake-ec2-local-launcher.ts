// Backs the fake EC2 endpoint's instances with local provider VMs (see local-vm-backing.ts): each
// launched instance boots a local VM from the instance's user-data, whose address becomes the
// instance's private IP; terminating the instance deletes the VM.
import type { Logger } from "pino";
import type { LocalProvider } from "../../providers/local/provider.ts";
import { OWNERSHIP_KEYS } from "../../providers/provider.ts";
import type { LaunchRequest, VmLauncher } from "./fake-ec2.ts";
import { localVmBacking } from "./local-vm-backing.ts";

export interface LocalVmLauncher extends VmLauncher {
  /** The local provider behind the instances, to look at its VMs. */
  readonly local: LocalProvider;
}

/** `vmsDir` holds the local VMs (one folder per instance id). */
export function localVmLauncher(vmsDir: string, logger: Logger, timeoutMs = 30_000): LocalVmLauncher {
  const backing = localVmBacking(vmsDir, vmsDir, logger);
  return {
    local: backing.local,
    async launch(req: LaunchRequest) {
      await backing.local.check();
      const vm = {
        name: req.instanceId,
        token: req.clientToken === "" ? req.instanceId : req.clientToken,
        owner: {
          sandboxId: req.tags[OWNERSHIP_KEYS.sandboxId] ?? "",
          node: req.tags[OWNERSHIP_KEYS.node] ?? "",
          cluster: req.tags[OWNERSHIP_KEYS.cluster] ?? "",
        },
        resources: { instanceType: req.instanceType, image: req.imageId },
        userData: req.userData,
      };
      return { privateIp: await backing.boot(vm, AbortSignal.timeout(timeoutMs)) };
    },
    terminate: (instanceId: string) => backing.remove(instanceId),
  };
}
