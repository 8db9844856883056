// Makes the fake Compute Engine endpoint's instances real (see local-vm-backing.ts): each is a
// local provider VM fed the instance's user-data metadata, whose address the fake reports as the
// instance's internal IP. Deleting the instance deletes the VM.
import pino from "pino";
import type { LocalProvider } from "../../providers/local/provider.ts";
import type { GceLauncher } from "./fake-gce-model.ts";
import { localVmBacking } from "./local-vm-backing.ts";

export function localVmLauncher(vmDir: string, stateDir: string): GceLauncher & { readonly local: LocalProvider } {
  const backing = localVmBacking(vmDir, stateDir, pino({ level: "silent" }));
  return {
    local: backing.local,
    async launch(instance) {
      const owner = {
        sandboxId: instance.labels["peerpods-sandbox-id"] ?? instance.name,
        node: "fake-gce",
        cluster: "fake-gce",
      };
      const token = `fake-gce-${instance.name}`;
      const vm = { name: instance.name, token, owner, userData: instance.userData };
      return { address: await backing.boot(vm, AbortSignal.timeout(30_000)) };
    },
    destroy: (name) => backing.remove(name),
  };
}
