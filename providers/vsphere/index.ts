import type { ProviderFactory } from "../provider.ts";
import { vsphereProviderConfig } from "./config.ts";
import { VsphereProvider } from "./provider.ts";

export const vsphereProviderFactory: ProviderFactory = {
  name: "vsphere",
  description: "peer VMs are clones of a vSphere template (vCenter SDK, SOAP)",
  create: (ctx) =>
    new VsphereProvider(vsphereProviderConfig(ctx.env), { logger: ctx.logger.child({ provider: "vsphere" }) }),
};
