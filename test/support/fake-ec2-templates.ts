// EC2 launch templates for the fake endpoint: what CreateLaunchTemplate stores (the launch
// parameters a RunInstances may leave out), how DescribeLaunchTemplates shows a template, and
// which template and version a RunInstances names, with the errors EC2 gives for each mistake.
import { randomBytes } from "node:crypto";
import { badRequest } from "./fake-ec2-errors.ts";
import type { QueryParams, XmlNode } from "./fake-ec2-wire.ts";

/** The launch parameters a template holds (one version per template here). */
export interface LaunchTemplateData {
  readonly imageId: string | undefined;
  readonly instanceType: string | undefined;
  readonly keyName: string | undefined;
  readonly securityGroupIds: readonly string[];
  /** From the template's first network interface, as EC2 templates carry the subnet. */
  readonly subnetId: string | undefined;
  readonly associatePublicIp: boolean | undefined;
  readonly amdSevSnp: string | undefined;
  readonly httpTokens: string | undefined;
  readonly blockDevices: readonly { readonly deviceName: string; readonly sizeGiB: number | undefined }[];
}

export interface FakeLaunchTemplate {
  readonly id: string;
  readonly name: string;
  readonly createTime: Date;
  readonly data: LaunchTemplateData;
}

const NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;

/** CreateLaunchTemplate's `LaunchTemplateData.*` parameters. */
export function parseTemplateData(p: QueryParams): LaunchTemplateData {
  const d = "LaunchTemplateData";
  const nic = p.structs(`${d}.NetworkInterface`)[0];
  const nicGroups = nic === undefined ? [] : p.list(`${nic}.SecurityGroupId`);
  const topGroups = p.list(`${d}.SecurityGroupId`);
  if (nic !== undefined && topGroups.length > 0)
    throw badRequest(
      "InvalidParameterCombination",
      "Network interfaces and an instance-level security groups may not be specified on the same request",
    );
  return {
    imageId: p.get(`${d}.ImageId`),
    instanceType: p.get(`${d}.InstanceType`),
    keyName: p.get(`${d}.KeyName`),
    securityGroupIds: nic === undefined ? topGroups : nicGroups,
    subnetId: nic === undefined ? undefined : p.get(`${nic}.SubnetId`),
    associatePublicIp: nic === undefined ? undefined : p.bool(`${nic}.AssociatePublicIpAddress`),
    amdSevSnp: p.get(`${d}.CpuOptions.AmdSevSnp`),
    httpTokens: p.get(`${d}.MetadataOptions.HttpTokens`),
    blockDevices: p.structs(`${d}.BlockDeviceMapping`).map((m) => {
      const size = p.get(`${m}.Ebs.VolumeSize`);
      return { deviceName: p.get(`${m}.DeviceName`) ?? "", sizeGiB: size === undefined ? undefined : Number(size) };
    }),
  };
}

export function newTemplate(name: string | undefined, data: LaunchTemplateData): FakeLaunchTemplate {
  if (name === undefined || name === "")
    throw badRequest("MissingParameter", "The request must contain the parameter LaunchTemplateName");
  if (!NAME.test(name))
    throw badRequest(
      "InvalidLaunchTemplateName.MalformedException",
      "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.",
    );
  return { id: `lt-${randomBytes(9).toString("hex").slice(0, 17)}`, name, createTime: new Date(), data };
}

/** A template as CreateLaunchTemplate and DescribeLaunchTemplates show it. */
export function templateXml(t: FakeLaunchTemplate, accountId: string): XmlNode[] {
  return [
    ["launchTemplateId", t.id],
    ["launchTemplateName", t.name],
    ["createTime", t.createTime.toISOString()],
    ["createdBy", `arn:aws:iam::${accountId}:user/peer-pods-admin`],
    ["defaultVersionNumber", 1],
    ["latestVersionNumber", 1],
  ];
}

/** DescribeLaunchTemplates: by names or ids (all when neither), refusing any unknown one. */
export function selectTemplates(
  p: QueryParams,
  templates: ReadonlyMap<string, FakeLaunchTemplate>,
): FakeLaunchTemplate[] {
  const names = p.list("LaunchTemplateName");
  const ids = p.list("LaunchTemplateId");
  const all = [...templates.values()];
  if (names.length === 0 && ids.length === 0) return all;
  const found = all.filter((t) => names.includes(t.name) || ids.includes(t.id));
  if (found.length < names.length + ids.length)
    throw badRequest(
      "InvalidLaunchTemplateName.NotFoundException",
      "At least one of the launch templates specified in the request does not exist.",
    );
  return found;
}

/** The template a RunInstances names (`LaunchTemplate.*`), or undefined when it names none. */
export function templateForLaunch(
  p: QueryParams,
  templates: ReadonlyMap<string, FakeLaunchTemplate>,
): FakeLaunchTemplate | undefined {
  const name = p.get("LaunchTemplate.LaunchTemplateName");
  const id = p.get("LaunchTemplate.LaunchTemplateId");
  if (name === undefined && id === undefined) return undefined;
  if (name !== undefined && id !== undefined)
    throw badRequest(
      "InvalidParameterCombination",
      "A launch template ID and a launch template name cannot be specified in the same request.",
    );
  let template: FakeLaunchTemplate | undefined;
  if (name !== undefined) {
    template = templates.get(name);
    if (template === undefined)
      throw badRequest(
        "InvalidLaunchTemplateName.NotFoundException",
        `The specified launch template, with template name ${name}, does not exist.`,
      );
  } else {
    if (!/^lt-[0-9a-f]{17}$/.test(id!))
      throw badRequest("InvalidLaunchTemplateId.Malformed", `The specified ID (${id}) is not valid.`);
    template = [...templates.values()].find((t) => t.id === id);
    if (template === undefined)
      throw badRequest(
        "InvalidLaunchTemplateId.NotFound",
        `The specified launch template, with template ID ${id}, does not exist.`,
      );
  }
  const version = p.get("LaunchTemplate.Version") ?? "$Default";
  if (version !== "$Default" && version !== "$Latest" && version !== "1")
    throw badRequest(
      "InvalidLaunchTemplateId.VersionNotFound",
      `Could not find launch template version ${version} for template ${template.id}`,
    );
  return template;
}
