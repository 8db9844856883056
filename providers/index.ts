// The one registry of providers. Each provider folder exports a factory; adding a provider is
// one line here.
import type { Logger } from "pino";
import { awsProviderFactory } from "./aws/index.ts";
import { localProviderFactory } from "./local/index.ts";
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


export function findProvider(name: string): ProviderFactory {
  const f = PROVIDERS.find((p) => p.name === name);
  if (f === undefined) {
    throw new Error(`unknown cloud provider ${JSON.stringify(name)}: known providers are ${PROVIDERS.map((p) => p.name).join(", ")}`);
  }
  return f;
}

export type { Provider } from "./provider.ts";
