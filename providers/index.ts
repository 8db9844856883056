// The one registry of providers: one line each. A provider's module (and its cloud SDK) is
// loaded only when the daemon runs that provider, so a node pays in memory and start-up time
// for one SDK, not all of them.
// Each provider's module imports the contract from ./provider.ts, never from here, so the
// registry and the providers it loads form no import cycle.
import type { ProviderFactory } from "./provider.ts";

interface ProviderEntry {
  readonly name: string;
  readonly load: () => Promise<ProviderFactory>;
}

export const PROVIDERS: readonly ProviderEntry[] = [
  { name: "local", load: async () => (await import("./local/index.ts")).localProviderFactory },
  { name: "aws", load: async () => (await import("./aws/index.ts")).awsProviderFactory },
  { name: "azure", load: async () => (await import("./azure/index.ts")).azureProviderFactory },
  { name: "vsphere", load: async () => (await import("./vsphere/index.ts")).vsphereProviderFactory },
  { name: "libvirt", load: async () => (await import("./libvirt/index.ts")).libvirtProviderFactory },
  { name: "gcp", load: async () => (await import("./gcp/index.ts")).gcpProviderFactory },
];

export async function findProvider(name: string): Promise<ProviderFactory> {
  const entry = PROVIDERS.find((p) => p.name === name);
  if (entry === undefined) {
    throw new Error(
      `unknown cloud provider ${JSON.stringify(name)}: known providers are ${PROVIDERS.map((p) => p.name).join(", ")}`,
    );
  }
  return entry.load();
}

export { ExternalModuleError, type ExternalModuleOptions, loadExternalProvider } from "./external-module.ts";
export type { Provider, ProviderContext, ProviderFactory } from "./provider.ts";
