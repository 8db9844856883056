import path from "node:path";
import {
  ConfigError,
  type ConfigOf,
  enumField,
  InvalidConfigError,
  loadConfig,
  stringField,
} from "../../src/config/index.ts";

export type LocalNetworkMode = "loopback" | "netns";

export const localConfigSpec = Object.freeze({
  vmsDir: stringField({
    env: "LOCAL_VM_DIR",
    description: "Folder holding each local VM (user-data, record, sockets, log); default <CAA_STATE_DIR>/local-vms.",
  }),
  network: enumField({
    env: "LOCAL_NETWORK",
    default: "auto",
    values: ["auto", "netns", "loopback"] as const,
    description:
      "netns: each VM in its own network namespace behind a bridge (root); loopback: each VM on its own 127.x address; auto: netns as root.",
  }),
  subnetPrefix: stringField({
    env: "LOCAL_SUBNET",
    default: "10.213.77",
    description: "First three octets of the /24 the local VMs' bridge uses (netns mode).",
  }),
  bridge: stringField({
    env: "LOCAL_BRIDGE",
    default: "caa-local0",
    description: "Name of the bridge local VMs attach to (netns mode).",
  }),
  vmTlsDir: stringField({
    env: "LOCAL_VM_TLS_DIR",
    description:
      "Folder standing in for certificates baked into the VM image (ca.crt, tls.crt, tls.key), which local VMs' forwarders use when the user-data carries none (the daemon runs with CACERT_FILE...).",
  }),
});

export interface LocalProviderConfig {
  readonly vmsDir: string;
  readonly network: LocalNetworkMode;
  readonly subnetPrefix: string;
  readonly bridge: string;
  readonly vmTlsDir: string | undefined;
}

export function localProviderConfig(
  env: Readonly<Record<string, string | undefined>>,
  stateDir: string,
  isRoot: boolean,
): LocalProviderConfig {
  const c: ConfigOf<typeof localConfigSpec> = loadConfig(localConfigSpec, { env, argv: [] });
  const problems: ConfigError[] = [];
  const bad = (variable: string, value: string, expected: string) =>
    problems.push(new ConfigError({ variable, value, expected, source: "env" }));
  if (c.network === "netns" && !isRoot)
    bad("LOCAL_NETWORK", c.network, "loopback or auto when not running as root (netns needs root)");
  const octets = c.subnetPrefix.split(".");
  if (octets.length !== 3 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255))
    bad("LOCAL_SUBNET", c.subnetPrefix, "the first three octets of a /24, e.g. 10.213.77");
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(c.bridge))
    bad("LOCAL_BRIDGE", c.bridge, "an interface name of at most 15 letters, digits, '-' or '_'");
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return {
    vmsDir: c.vmsDir ?? path.join(stateDir, "local-vms"),
    network: c.network === "auto" ? (isRoot ? "netns" : "loopback") : c.network,
    subnetPrefix: c.subnetPrefix,
    bridge: c.bridge,
    vmTlsDir: c.vmTlsDir,
  };
}
