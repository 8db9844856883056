import type { ProviderFactory } from "../provider.ts";
import { libvirtProviderConfig } from "./config.ts";
import { LibvirtProvider } from "./provider.ts";

export const libvirtProviderFactory: ProviderFactory = {
  name: "libvirt",
  description: "peer VMs are libvirt domains (our own client of libvirt's RPC protocol: local socket, tcp or ssh)",
  create: (ctx) =>
    new LibvirtProvider(libvirtProviderConfig(ctx.env), { logger: ctx.logger.child({ provider: "libvirt" }) }),
};
