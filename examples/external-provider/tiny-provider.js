// A tiny out-of-tree provider, loaded with
//   CLOUD_PROVIDER=tiny
//   CLOUD_PROVIDER_EXTERNAL_MODULE=/opt/peerpods/tiny-provider.js
//   CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256=$(sha256sum /opt/peerpods/tiny-provider.js | cut -d' ' -f1)
// It shows the contract of providers/provider.ts: a factory (name, description, create) whose
// provider checks its settings, creates a VM that runs the forwarder, deletes it, lists the
// VMs carrying the daemon's ownership marks, and closes. The work itself is the embedded local
// provider's (VMs are local process groups), so the example runs a real pod anywhere; a real
// module would call its cloud's API instead.
import { localProviderFactory } from "../../providers/local/index.ts";

/** @type {import("../../providers/provider.ts").ProviderFactory} */
export const providerFactory = {
  name: "tiny",
  description: "example out-of-tree provider (VMs are local process groups)",
  create(ctx) {
    const log = ctx.logger.child({ provider: "tiny" });
    const vms = localProviderFactory.create(ctx);
    return {
      name: "tiny",
      check: (signal) => vms.check(signal),
      async createVm(req, signal) {
        log.info({ vm: req.name }, "tiny: creating VM");
        return vms.createVm(req, signal);
      },
      deleteVm: (vm, signal) => vms.deleteVm(vm, signal),
      listOwnedVms: (owner, signal) => vms.listOwnedVms(owner, signal),
      close: () => vms.close(),
    };
  },
};
