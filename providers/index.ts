// The one registry of providers: one line each. A provider's module (and its cloud SDK) is
// loaded only when the daemon runs that provider, so a node pays in memory and start-up time
// for one SDK, not all of them.
import type { Logger } from "pino";
import type { Provider } from "./provider.ts";

export interface ProviderContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stateDir: string;
  readonly logger: Logger;
  readonly isRoot: boolean;
}

export interface ProviderFactory {
  readonly name: string;
  readonly description: string;
  /** Builds the provider from its environment variables; throws naming any bad variable. */
  create(ctx: ProviderContext): Provider;
}

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
];

export async function findProvider(name: string): Promise<ProviderFactory> {
  const entry = PROVIDERS.find((p) => p.name === name);
  if (entry === undefined) {
    throw new Error(`unknown cloud provider ${JSON.stringify(name)}: known providers are ${PROVIDERS.map((p) => p.name).join(", ")}`);
  }
  return entry.load();
}

export type { Provider } from "./provider.ts";
