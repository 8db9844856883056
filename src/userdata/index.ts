import { buildCloudConfig, type CloudConfigFile, parseCloudConfig } from "./cloud-config.ts";
import {
  FORWARDER_CONFIG_PATH,
  type ForwarderConfig,
  type PoolForwarderConfig,
  parseBootConfig,
  parseForwarderConfig,
} from "./forwarder-config.ts";

export * from "./claim.ts";
export * from "./cloud-config.ts";
export * from "./forwarder-config.ts";

/** Where the pod's initdata lands in the VM, for the VM's attestation and policy agents. */
export const INITDATA_PATH = "/run/peerpod/initdata";

/** Where the guest's image puller reads registry credentials (containers-auth.json; upstream's
 * path, named by the kata-agent configuration of the pod VM image). */
export const REGISTRY_AUTH_PATH = "/run/peerpod/auth.json";

/** The user-data of a peer VM: its forwarder configuration (private key included, so 0600),
 * the pod's initdata when it has one, and its registry credentials (containers-auth.json text)
 * when it has any. */
export function buildUserData(config: ForwarderConfig, initdata?: string, registryAuth?: string): string {
  return buildCloudConfig(sandboxFiles(config, initdata, registryAuth));
}

/** The files a sandbox's VM is given: in its user-data when it boots for the pod (cold), or
 * in the claim when a pool VM takes the pod (warm). One list, so both paths carry the same. */
export function sandboxFiles(config: ForwarderConfig, initdata?: string, registryAuth?: string): CloudConfigFile[] {
  const files: CloudConfigFile[] = [
    { path: FORWARDER_CONFIG_PATH, permissions: "0600", content: JSON.stringify(config) },
  ];
  if (initdata !== undefined && initdata !== "")
    files.push({ path: INITDATA_PATH, permissions: "0600", content: initdata });
  if (registryAuth !== undefined) files.push({ path: REGISTRY_AUTH_PATH, permissions: "0600", content: registryAuth });
  return files;
}

/** The user-data of a warm-pool VM: its pool identity, and the node's default initdata (the
 * only initdata a pool VM can serve, so what it boots with is what its pods carry). */
export function buildPoolUserData(config: PoolForwarderConfig, initdata?: string): string {
  const files: CloudConfigFile[] = [
    { path: FORWARDER_CONFIG_PATH, permissions: "0600", content: JSON.stringify(config) },
  ];
  if (initdata !== undefined && initdata !== "")
    files.push({ path: INITDATA_PATH, permissions: "0600", content: initdata });
  return buildCloudConfig(files);
}

/** Either boot configuration (a sandbox's or a pool VM's) inside user-data. */
export function bootConfigFromUserData(userData: string): ForwarderConfig | PoolForwarderConfig {
  const file = parseCloudConfig(userData).find((f) => f.path === FORWARDER_CONFIG_PATH);
  if (file === undefined) throw new Error(`user-data carries no ${FORWARDER_CONFIG_PATH}`);
  return parseBootConfig(file.content);
}

/** The forwarder configuration inside user-data; throws when it is missing or invalid. */
export function forwarderConfigFromUserData(userData: string): ForwarderConfig {
  const file = parseCloudConfig(userData).find((f) => f.path === FORWARDER_CONFIG_PATH);
  if (file === undefined) throw new Error(`user-data carries no ${FORWARDER_CONFIG_PATH}`);
  return parseForwarderConfig(file.content);
}
