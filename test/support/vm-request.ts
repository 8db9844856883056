// What provider tests ask of a provider: a create request as the sandbox manager fills it, with
// the smallest user-data naming the sandbox.
import { type CreateVmRequest, NO_RESOURCES, type Ownership, type ResourceRequest } from "../../providers/provider.ts";

/** Cloud-config writing a daemon.json that names `name`, as a fake cloud's VM receives it. */
export function namedUserData(name: string): string {
  return `#cloud-config\nwrite_files:\n- path: /run/peerpod/daemon.json\n  content: '{"sandbox":"${name}"}'\n`;
}

/** What a test bed's `request(name, options)` lets a test set; the rest comes from the bed. */
export interface VmRequestOptions {
  readonly sandboxId?: string;
  readonly token?: string;
  readonly resources?: Partial<ResourceRequest>;
  readonly userData?: string;
  readonly node?: string;
  readonly cluster?: string;
}

/** A create request for `name`: token `token-<name>`, the bed's owner, no resources, user-data naming it. */
export function vmRequest(name: string, o: VmRequestOptions, owner: Ownership): CreateVmRequest {
  return {
    name,
    token: o.token ?? `token-${name}`,
    owner: {
      sandboxId: o.sandboxId ?? owner.sandboxId,
      node: o.node ?? owner.node,
      cluster: o.cluster ?? owner.cluster,
    },
    resources: { ...NO_RESOURCES, ...o.resources },
    userData: o.userData ?? namedUserData(name),
  };
}
