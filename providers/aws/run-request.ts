// The RunInstances request for one peer VM: image, type, network, IMDSv2 only, root volume,
// confidential-VM CPU options, user-data and the tags the daemon finds its VMs by.
import type { RunInstancesCommandInput, Tag } from "@aws-sdk/client-ec2";
import { OWNERSHIP_KEYS, type Ownership } from "../provider.ts";
import type { AwsProviderConfig } from "./config.ts";
import type { Placement } from "./worker-placement.ts";

/** EC2 refuses user-data over 16 KiB (before base64). */
export const MAX_USER_DATA_BYTES = 16384;

export interface LaunchSpec {
  readonly name: string;
  readonly owner: Ownership;
  readonly userData: string;
  readonly imageId: string;
  /** The image's root device, to size the root volume; undefined leaves the image's size. */
  readonly rootDeviceName: string | undefined;
  readonly instanceType: string;
  readonly clientToken: string;
}

export function vmTags(name: string, owner: Ownership, extra: ReadonlyMap<string, string>): Tag[] {
  return [
    { Key: "Name", Value: name },
    { Key: OWNERSHIP_KEYS.sandboxId, Value: owner.sandboxId },
    { Key: OWNERSHIP_KEYS.node, Value: owner.node },
    { Key: OWNERSHIP_KEYS.cluster, Value: owner.cluster },
    ...[...extra].map(([Key, Value]) => ({ Key, Value })),
  ];
}

export function runInstancesInput(
  spec: LaunchSpec,
  config: AwsProviderConfig,
  placement: Placement,
  dryRun = false,
): RunInstancesCommandInput {
  // A public address needs an explicit network interface; EC2 then refuses an instance-level
  // subnet or security groups in the same request.
  const network: Partial<RunInstancesCommandInput> = config.usePublicIp
    ? {
        NetworkInterfaces: [
          {
            DeviceIndex: 0,
            AssociatePublicIpAddress: true,
            DeleteOnTermination: true,
            SubnetId: placement.subnetId,
            Groups: [...placement.securityGroupIds],
          },
        ],
      }
    : { SubnetId: placement.subnetId, SecurityGroupIds: [...placement.securityGroupIds] };
  return {
    ImageId: spec.imageId,
    InstanceType: spec.instanceType as RunInstancesCommandInput["InstanceType"],
    ...network,
    ...(config.keyName === undefined ? {} : { KeyName: config.keyName }),
    ...(config.disableCvm ? {} : { CpuOptions: { AmdSevSnp: "enabled" } }),
    ...ownLaunchInput(spec, config, dryRun),
  };
}

/** What makes a launch this pod's VM, from a launch template or not: one instance, the client
 * token, the user-data, IMDSv2 only, the root volume size and the ownership tags. */
export function ownLaunchInput(
  spec: Omit<LaunchSpec, "imageId" | "instanceType">,
  config: AwsProviderConfig,
  dryRun: boolean,
): RunInstancesCommandInput {
  const tags = vmTags(spec.name, spec.owner, config.tags);
  return {
    MinCount: 1,
    MaxCount: 1,
    ClientToken: spec.clientToken,
    UserData: Buffer.from(spec.userData, "utf8").toString("base64"),
    // IMDSv2 only: the VM's metadata (and any role it has) needs a session token.
    MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled" },
    // ROOT_VOLUME_SIZE=0 keeps the image's size, as upstream.
    ...(spec.rootDeviceName === undefined || config.rootVolumeSizeGiB === 0
      ? {}
      : {
          BlockDeviceMappings: [
            {
              DeviceName: spec.rootDeviceName,
              Ebs: { VolumeSize: config.rootVolumeSizeGiB, DeleteOnTermination: true },
            },
          ],
        }),
    TagSpecifications: [
      { ResourceType: "instance", Tags: tags },
      { ResourceType: "volume", Tags: tags },
    ],
    ...(dryRun ? { DryRun: true } : {}),
  };
}
