// The create request the libvirt benches time: a VM of no particular size owned by node and
// cluster "bench", its forwarder on the usual port with `tls` (none: plain TCP).
import { type CreateVmRequest, NO_RESOURCES } from "../../providers/provider.ts";
import { buildUserData, type ForwarderTls } from "../../src/userdata/index.ts";

export function benchVmRequest(name: string, token: string, tls: ForwarderTls | undefined): CreateVmRequest {
  return {
    name,
    token,
    owner: { sandboxId: name, node: "bench", cluster: "bench" },
    resources: NO_RESOURCES,
    userData: buildUserData({ version: 1, sandboxId: name, listenPort: 15150, tls, podNetwork: undefined }),
  };
}
