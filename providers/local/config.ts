import path from "node:path";

export type LocalNetworkMode = "loopback" | "netns";

export interface LocalProviderConfig {
  /** Where each VM's folder lives (user-data, record, sockets, logs). */
  readonly vmsDir: string;
  /** "netns": each VM in its own network namespace behind a bridge (needs root);
   * "loopback": each VM on its own 127.x address. */
  readonly network: LocalNetworkMode;
  /** First three octets of the bridge subnet in netns mode (a /24 per node is plenty). */
  readonly subnetPrefix: string;
  readonly bridge: string;
}

/** LOCAL_VM_DIR, LOCAL_NETWORK (auto|netns|loopback), LOCAL_SUBNET (x.y.z, a /24), LOCAL_BRIDGE. */
export function localProviderConfig(env: Readonly<Record<string, string | undefined>>, stateDir: string, isRoot: boolean): LocalProviderConfig {
  const mode = (env.LOCAL_NETWORK ?? "auto").trim();
  if (!["auto", "netns", "loopback"].includes(mode)) {
    throw new Error(`LOCAL_NETWORK=${JSON.stringify(mode)}: expected auto, netns or loopback`);
  }
  if (mode === "netns" && !isRoot) throw new Error("LOCAL_NETWORK=netns: needs root (network namespaces, veth, bridge)");
  const subnetPrefix = (env.LOCAL_SUBNET ?? "10.213.77").trim();
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(subnetPrefix) || subnetPrefix.split(".").some((o) => Number(o) > 255)) {
    throw new Error(`LOCAL_SUBNET=${JSON.stringify(subnetPrefix)}: expected the first three octets of a /24, e.g. 10.213.77`);
  }
  const bridge = (env.LOCAL_BRIDGE ?? "caa-local0").trim();
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(bridge)) throw new Error(`LOCAL_BRIDGE=${JSON.stringify(bridge)}: expected an interface name of at most 15 characters`);
  return {
    vmsDir: env.LOCAL_VM_DIR?.trim() || path.join(stateDir, "local-vms"),
    network: mode === "auto" ? (isRoot ? "netns" : "loopback") : (mode as LocalNetworkMode),
    subnetPrefix,
    bridge,
  };
}
