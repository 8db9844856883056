import type { ProviderFactory } from "../provider.ts";
import { awsProviderConfig } from "./config.ts";
import { AwsProvider } from "./provider.ts";

export const awsProviderFactory: ProviderFactory = {
  name: "aws",
  description: "peer VMs are EC2 instances (@aws-sdk/client-ec2)",
  create: (ctx) => new AwsProvider(awsProviderConfig(ctx.env), { logger: ctx.logger.child({ provider: "aws" }) }),
};
