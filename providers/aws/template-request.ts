// The RunInstances request for one peer VM launched from an EC2 launch template
// (USE_PODVM_LAUNCHTEMPLATE). As upstream, the template supplies the image, instance type,
// network, key pair and CPU options; the daemon adds what makes the VM this pod's: user-data,
// the tags it finds its VMs by, the ClientToken, and the root volume size when PODVM_AMI_ID
// names the image's root device. It also asks for IMDSv2 only, which upstream leaves to the
// template: the VM's metadata (and any role it has) should need a session token.
import type { RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import type { AwsProviderConfig } from "./config.ts";
import { type LaunchSpec, ownLaunchInput } from "./run-request.ts";

export type TemplateLaunchSpec = Omit<LaunchSpec, "imageId" | "instanceType">;

export function templateRunInstancesInput(
  spec: TemplateLaunchSpec,
  config: AwsProviderConfig & { readonly launchTemplate: string },
  dryRun = false,
): RunInstancesCommandInput {
  return {
    LaunchTemplate: { LaunchTemplateName: config.launchTemplate },
    ...ownLaunchInput(spec, config, dryRun),
  };
}
