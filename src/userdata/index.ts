import { buildCloudConfig, parseCloudConfig, type CloudConfigFile } from "./cloud-config.ts";
import { FORWARDER_CONFIG_PATH, parseForwarderConfig, type ForwarderConfig } from "./forwarder-config.ts";

export * from "./cloud-config.ts";
export * from "./forwarder-config.ts";

/** Where the pod's initdata lands in the VM, for the VM's attestation and policy agents. */
export const INITDATA_PATH = "/run/peerpod/initdata";

/** The user-data of a peer VM: its forwarder configuration (private key included, so 0600),
 * and the pod's initdata when it has one. */
export function buildUserData(config: ForwarderConfig, initdata?: string): string {
  const files: CloudConfigFile[] = [{ path: FORWARDER_CONFIG_PATH, permissions: "0600", content: JSON.stringify(config) }];
  if (initdata !== undefined && initdata !== "") files.push({ path: INITDATA_PATH, permissions: "0600", content: initdata });
  return buildCloudConfig(files);
}

/** The forwarder configuration inside user-data; throws when it is missing or invalid. */
export function forwarderConfigFromUserData(userData: string): ForwarderConfig {
  const file = parseCloudConfig(userData).find((f) => f.path === FORWARDER_CONFIG_PATH);
  if (file === undefined) throw new Error(`user-data carries no ${FORWARDER_CONFIG_PATH}`);
  return parseForwarderConfig(file.content);
}
