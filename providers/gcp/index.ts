import type { ProviderFactory } from "../provider.ts";
import { gcpProviderConfig } from "./config.ts";
import { GcpProvider } from "./provider.ts";

export const gcpProviderFactory: ProviderFactory = {
  name: "gcp",
  description: "peer VMs are Compute Engine instances (@google-cloud/compute over REST, google-auth-library)",
  create: (ctx) => new GcpProvider(gcpProviderConfig(ctx.env), ctx.logger.child({ provider: "gcp" }), { env: ctx.env }),
};

export { type GcpProviderConfig, gcpConfigSpec, gcpProviderConfig } from "./config.ts";
export { GcpProvider, type GcpProviderOptions } from "./provider.ts";
