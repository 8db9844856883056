// What a peer VM carries in its extraConfig: cloud-init's VMware datasource reads user-data and
// metadata from the guestinfo keys (through VMware Tools), and the daemon finds its VMs again
// by the ownership keys and the token of the create that made them.
import { OWNERSHIP_KEYS, type Ownership } from "../provider.ts";
import type { OptionValue } from "./vim/index.ts";

/** Token of the create that made the VM: a retried create with the same token reuses it. */
export const CREATE_TOKEN_KEY = "peerpods.create-token";

export const GUESTINFO = {
  userData: "guestinfo.userdata",
  userDataEncoding: "guestinfo.userdata.encoding",
  metadata: "guestinfo.metadata",
  metadataEncoding: "guestinfo.metadata.encoding",
} as const;

/** The extraConfig entries of a new peer VM. */
export function guestExtraConfig(name: string, token: string, owner: Ownership, userData: string): OptionValue[] {
  // cloud-init's instance id changes with every VM, so a clone never reuses the template's state.
  const metadata = JSON.stringify({ "instance-id": name, "local-hostname": name });
  return [
    { key: GUESTINFO.userData, value: Buffer.from(userData, "utf8").toString("base64") },
    { key: GUESTINFO.userDataEncoding, value: "base64" },
    { key: GUESTINFO.metadata, value: Buffer.from(metadata, "utf8").toString("base64") },
    { key: GUESTINFO.metadataEncoding, value: "base64" },
    { key: OWNERSHIP_KEYS.sandboxId, value: owner.sandboxId },
    { key: OWNERSHIP_KEYS.node, value: owner.node },
    { key: OWNERSHIP_KEYS.cluster, value: owner.cluster },
    { key: CREATE_TOKEN_KEY, value: token },
  ];
}

/** The ownership marks of a VM; undefined when it carries none (not ours). */
export function ownershipOf(extraConfig: ReadonlyMap<string, string>): Ownership | undefined {
  const sandboxId = extraConfig.get(OWNERSHIP_KEYS.sandboxId);
  if (sandboxId === undefined || sandboxId === "") return undefined;
  return {
    sandboxId,
    node: extraConfig.get(OWNERSHIP_KEYS.node) ?? "",
    cluster: extraConfig.get(OWNERSHIP_KEYS.cluster) ?? "",
  };
}
