import type { ProviderFactory } from "../provider.ts";
import { localProviderConfig } from "./config.ts";
import { LocalProvider } from "./provider.ts";

export const localProviderFactory: ProviderFactory = {
  name: "local",
  description: "VMs are local process groups running the forwarder and a minimal agent (development, tests)",
  create: (ctx) =>
    new LocalProvider(localProviderConfig(ctx.env, ctx.stateDir, ctx.isRoot), ctx.logger.child({ provider: "local" })),
};
