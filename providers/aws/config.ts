// The AWS provider's settings, under upstream's peer-pods-cm names and the AWS SDK's standard
// variables. Region, subnet and security groups may be left unset on an EC2 worker: they then
// come from the worker's own metadata (see worker-placement.ts).
import {
  boolField,
  ConfigError,
  type ConfigOf,
  InvalidConfigError,
  intField,
  listField,
  loadConfig,
  mapField,
  stringField,
} from "../../src/config/index.ts";
import { OWNERSHIP_KEYS } from "../provider.ts";

export const DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254";

export const awsConfigSpec = Object.freeze({
  region: stringField({
    env: "AWS_REGION",
    description: "Region of the peer VMs; unset on an EC2 worker: the worker's own region.",
  }),
  amiId: stringField({
    env: "PODVM_AMI_ID",
    description:
      "AMI of the peer-pod VM image (the pod's image annotation, when set, wins); required unless USE_PODVM_LAUNCHTEMPLATE=true.",
  }),
  useLaunchTemplate: boolField({
    env: "USE_PODVM_LAUNCHTEMPLATE",
    default: "false",
    description:
      "Launch peer VMs from the EC2 launch template PODVM_LAUNCHTEMPLATE_NAME: it supplies the image, instance type, network, key pair and CPU options; the daemon adds user-data, tags and IMDSv2.",
  }),
  launchTemplateName: stringField({
    env: "PODVM_LAUNCHTEMPLATE_NAME",
    default: "kata",
    description: "Name of the EC2 launch template used when USE_PODVM_LAUNCHTEMPLATE=true.",
  }),
  instanceType: stringField({
    env: "PODVM_INSTANCE_TYPE",
    default: "m6a.large",
    description: "Instance type used when the pod names none and asks for no size.",
  }),
  instanceTypes: listField({
    env: "PODVM_INSTANCE_TYPES",
    description:
      "Allowed instance types, comma-separated. A pod's machine_type must be one of them (or PODVM_INSTANCE_TYPE); a pod asking for vCPUs/memory/GPUs gets the smallest listed type that fits.",
  }),
  subnetId: stringField({
    env: "AWS_SUBNET_ID",
    description: "Subnet of the peer VMs; unset on an EC2 worker: the worker's own subnet.",
  }),
  securityGroupIds: listField({
    env: "AWS_SG_IDS",
    description:
      "Security groups of the peer VMs, comma-separated; they must let the worker reach port 15150 (and VXLAN 4789/udp).",
  }),
  keyName: stringField({
    env: "SSH_KP_NAME",
    description: "EC2 key pair installed in the peer VMs (for debugging); none when unset.",
  }),
  usePublicIp: boolField({
    env: "USE_PUBLIC_IP",
    default: "false",
    description: "Give peer VMs a public address and reach them through it (workers outside the VPC).",
  }),
  rootVolumeSizeGiB: intField({
    env: "ROOT_VOLUME_SIZE",
    default: "30",
    min: 0,
    max: 16384,
    description: "Root volume size of the peer VMs, in GiB; 0: the image's own size.",
  }),
  disableCvm: boolField({
    env: "DISABLECVM",
    default: "false",
    description: "Launch plain VMs instead of confidential ones (AMD SEV-SNP); needed for types without SEV-SNP.",
  }),
  tags: mapField({
    env: "TAGS",
    description: "Extra tags on every peer VM and its volume, as k1=v1,k2=v2.",
  }),
  endpointEc2: stringField({
    env: "AWS_ENDPOINT_URL_EC2",
    description: "EC2 endpoint URL (VPC endpoint, testing); wins over AWS_ENDPOINT_URL.",
  }),
  endpoint: stringField({
    env: "AWS_ENDPOINT_URL",
    description: "Endpoint URL for every AWS service; the SDK's regional endpoint when unset.",
  }),
  imdsEndpoint: stringField({
    env: "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    default: DEFAULT_IMDS_ENDPOINT,
    description: "Instance metadata service (IMDSv2) asked for the worker's region, subnet and security groups.",
  }),
  imdsDisabled: boolField({
    env: "AWS_EC2_METADATA_DISABLED",
    default: "false",
    description: "Never ask the instance metadata service (region, subnet and security groups must then be set).",
  }),
  maxAttempts: intField({
    env: "AWS_MAX_ATTEMPTS",
    default: "5",
    min: 1,
    max: 20,
    description:
      "Attempts per EC2 call (the SDK's adaptive retry for throttling and 5xx), always within the call's deadline.",
  }),
  accessKeyId: stringField({
    env: "AWS_ACCESS_KEY_ID",
    secret: true,
    description: "Access key; unset: the SDK's default chain (shared files, web identity, instance role via IMDSv2).",
  }),
  secretAccessKey: stringField({
    env: "AWS_SECRET_ACCESS_KEY",
    secret: true,
    description: "Secret key paired with AWS_ACCESS_KEY_ID.",
  }),
  sessionToken: stringField({
    env: "AWS_SESSION_TOKEN",
    secret: true,
    description: "Session token of temporary credentials.",
  }),
});

export interface AwsStaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
}

export interface AwsProviderConfig {
  readonly region: string | undefined;
  /** Required unless a launch template supplies the image. */
  readonly amiId: string | undefined;
  /** The launch template's name when USE_PODVM_LAUNCHTEMPLATE=true, else undefined. */
  readonly launchTemplate: string | undefined;
  /** Settings given but not used because the launch template supplies them (warned at start-up). */
  readonly supersededByTemplate: readonly string[];
  /** PODVM_LAUNCHTEMPLATE_NAME set to a template of its own while USE_PODVM_LAUNCHTEMPLATE is off
   * (older upstream images launched from it whenever it was set): warned at start-up. */
  readonly unusedTemplateName: string | undefined;
  readonly instanceType: string;
  readonly instanceTypes: readonly string[];
  readonly subnetId: string | undefined;
  readonly securityGroupIds: readonly string[];
  readonly keyName: string | undefined;
  readonly usePublicIp: boolean;
  readonly rootVolumeSizeGiB: number;
  readonly disableCvm: boolean;
  readonly tags: ReadonlyMap<string, string>;
  /** The EC2 endpoint override, if any (AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL). */
  readonly endpoint: string | undefined;
  /** IMDS base URL, or undefined when the metadata service must not be asked. */
  readonly imdsEndpoint: string | undefined;
  readonly maxAttempts: number;
  /** Static keys from the environment; undefined: the SDK's default credential chain. */
  readonly credentials: AwsStaticCredentials | undefined;
}

// EC2's rule for launch template names.
const LAUNCH_TEMPLATE_NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;
// Region names such as us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
// Tags the provider sets itself; TAGS may not override them.
const RESERVED_TAG_KEYS: ReadonlySet<string> = new Set(["Name", ...Object.values(OWNERSHIP_KEYS)]);

export function awsProviderConfig(env: Readonly<Record<string, string | undefined>>): AwsProviderConfig {
  const c: ConfigOf<typeof awsConfigSpec> = loadConfig(awsConfigSpec, { env, argv: [] });
  const problems: ConfigError[] = [];
  const bad = (variable: string, value: string, expected: string, secret = false) =>
    problems.push(new ConfigError({ variable, value, expected, source: "env", secret }));

  if (c.region !== undefined && !REGION.test(c.region)) bad("AWS_REGION", c.region, "a region name such as us-east-1");
  if (c.useLaunchTemplate && !LAUNCH_TEMPLATE_NAME.test(c.launchTemplateName))
    bad(
      "PODVM_LAUNCHTEMPLATE_NAME",
      c.launchTemplateName,
      "a launch template name: 3 to 128 letters, digits and ( ) . - / _",
    );
  if (!c.useLaunchTemplate && c.amiId === undefined)
    problems.push(
      new ConfigError({
        variable: "PODVM_AMI_ID",
        source: "missing",
        expected:
          "the AMI of the peer-pod VM image (or USE_PODVM_LAUNCHTEMPLATE=true and a launch template that has one)",
      }),
    );
  for (const [variable, value] of [
    ["AWS_ENDPOINT_URL_EC2", c.endpointEc2],
    ["AWS_ENDPOINT_URL", c.endpoint],
    ["AWS_EC2_METADATA_SERVICE_ENDPOINT", c.imdsEndpoint],
  ] as const) {
    if (value !== undefined && !isHttpUrl(value)) bad(variable, value, "an http:// or https:// URL");
  }
  const tags: ReadonlyMap<string, string> = c.tags ?? new Map();
  const shown = (env.TAGS ?? "").trim();
  for (const [key, value] of tags) {
    if (key.length > 128)
      bad("TAGS", shown, `tag keys of at most 128 characters (${JSON.stringify(key.slice(0, 20))}... is longer)`);
    else if (value.length > 256)
      bad("TAGS", shown, `tag values of at most 256 characters (the value of ${JSON.stringify(key)} is longer)`);
    else if (key.toLowerCase().startsWith("aws:"))
      bad("TAGS", shown, `no key starting with "aws:" (reserved by AWS): ${JSON.stringify(key)}`);
    else if (RESERVED_TAG_KEYS.has(key))
      bad(
        "TAGS",
        shown,
        `no key set by the daemon itself (${[...RESERVED_TAG_KEYS].join(", ")}): ${JSON.stringify(key)}`,
      );
  }
  if (tags.size > 40) bad("TAGS", shown, "at most 40 tags (EC2 allows 50, the daemon sets up to 4 and keeps room)");
  if ((c.accessKeyId === undefined) !== (c.secretAccessKey === undefined)) {
    const [set, unset] =
      c.accessKeyId === undefined
        ? ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"]
        : ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    problems.push(
      new ConfigError({
        variable: unset,
        expected: `required when ${set} is set (or unset both to use the SDK's default credential chain)`,
        source: "missing",
        secret: true,
      }),
    );
  }
  if (c.sessionToken !== undefined && c.accessKeyId === undefined) {
    bad("AWS_SESSION_TOKEN", "", "only together with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", true);
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);

  // With a launch template, upstream takes these from the template and ignores the settings.
  const superseded = c.useLaunchTemplate
    ? [
        c.subnetId === undefined ? undefined : "AWS_SUBNET_ID",
        c.securityGroupIds === undefined ? undefined : "AWS_SG_IDS",
        c.keyName === undefined ? undefined : "SSH_KP_NAME",
        c.instanceType === awsConfigSpec.instanceType.default ? undefined : "PODVM_INSTANCE_TYPE",
        c.instanceTypes === undefined ? undefined : "PODVM_INSTANCE_TYPES",
        c.usePublicIp ? "USE_PUBLIC_IP" : undefined,
        c.disableCvm ? "DISABLECVM" : undefined,
      ].filter((v): v is string => v !== undefined)
    : [];
  return {
    region: c.region,
    amiId: c.amiId,
    launchTemplate: c.useLaunchTemplate ? c.launchTemplateName : undefined,
    supersededByTemplate: superseded,
    unusedTemplateName:
      !c.useLaunchTemplate && c.launchTemplateName !== awsConfigSpec.launchTemplateName.default
        ? c.launchTemplateName
        : undefined,
    instanceType: c.instanceType,
    instanceTypes: [...new Set(c.instanceTypes ?? [])],
    subnetId: c.subnetId,
    securityGroupIds: [...new Set(c.securityGroupIds ?? [])],
    keyName: c.keyName,
    usePublicIp: c.usePublicIp,
    rootVolumeSizeGiB: c.rootVolumeSizeGiB,
    disableCvm: c.disableCvm,
    tags,
    endpoint: c.endpointEc2 ?? c.endpoint,
    imdsEndpoint: c.imdsDisabled ? undefined : c.imdsEndpoint,
    maxAttempts: c.maxAttempts,
    credentials:
      c.accessKeyId !== undefined && c.secretAccessKey !== undefined
        ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }
        : undefined,
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
