import { buildCloudConfig, parseCloudConfig } from "./cloud-config.ts";
import { FORWARDER_CONFIG_PATH, parseForwarderConfig, type ForwarderConfig } from "./forwarder-config.ts";

export * from "./cloud-config.ts";
export * from "./forwarder-config.ts";

/** The user-data of a peer VM: its forwarder configuration (private key included, so 0600). */
export function buildUserData(config: ForwarderConfig): string {
  return buildCloudConfig([{ path: FORWARDER_CONFIG_PATH, permissions: "0600", content: JSON.stringify(config) }]);
}

/** The forwarder configuration inside user-data; throws when it is missing or invalid. */
export function forwarderConfigFromUserData(userData: string): ForwarderConfig {
  const file = parseCloudConfig(userData).find((f) => f.path === FORWARDER_CONFIG_PATH);
  if (file === undefined) throw new Error(`user-data carries no ${FORWARDER_CONFIG_PATH}`);
  return parseForwarderConfig(file.content);
}
