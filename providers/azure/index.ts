import type { ProviderFactory } from "../provider.ts";
import { azureProviderConfig } from "./config.ts";
import { AzureProvider } from "./provider.ts";

export const azureProviderFactory: ProviderFactory = {
  name: "azure",
  description: "Azure VMs (confidential by default) with @azure/arm-compute and @azure/arm-network",
  create: (ctx) => new AzureProvider(azureProviderConfig(ctx.env), ctx.logger.child({ provider: "azure" })),
};

export { type AzureProviderConfig, azureConfigSpec, azureProviderConfig } from "./config.ts";
export { AzureProvider, type AzureProviderOptions } from "./provider.ts";
