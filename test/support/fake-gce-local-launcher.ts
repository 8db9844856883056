// Makes the fake Compute Engine endpoint's instances real: each is a local provider VM (a
// process group running the forwarder and the minimal agent) fed the instance's user-data
// metadata, reachable on its own 127.x address, which the fake reports as the instance's
// internal IP. Deleting the instance deletes the VM.
import pino from "pino";
import { localProviderConfig } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import type { Ownership } from "../../providers/provider.ts";
import type { GceLauncher } from "./fake-gce-model.ts";

export function localVmLauncher(vmDir: string, stateDir: string): GceLauncher & { readonly local: LocalProvider } {
  const local = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: vmDir }, stateDir, false),
    pino({ level: "silent" }),
  );
  // The fake cloud deletes what it launched: each VM with the marks it was made with.
  const owners = new Map<string, Ownership>();
  return {
    local,
    async launch(instance) {
      const owner = {
        sandboxId: instance.labels["peerpods-sandbox-id"] ?? instance.name,
        node: "fake-gce",
        cluster: "fake-gce",
      };
      owners.set(instance.name, owner);
      const resources = {
        instanceType: undefined,
        vcpus: undefined,
        memoryMiB: undefined,
        gpus: undefined,
        image: undefined,
      };
      const made = await local.createVm(
        { name: instance.name, token: `fake-gce-${instance.name}`, owner, resources, userData: instance.userData },
        AbortSignal.timeout(30_000),
      );
      if (made.address === undefined) throw new Error(`local VM ${instance.name} has no address`);
      return { address: made.address };
    },
    async destroy(name) {
      const owner = owners.get(name);
      if (owner === undefined) return;
      await local.deleteVm({ id: undefined, name, owner });
    },
  };
}
