// What the AWS provider's configuration is with upstream's defaults: the expectation the
// configuration test and the upstream parity test both start from.
import type { AwsProviderConfig } from "../../providers/aws/config.ts";

/** PODVM_AMI_ID=ami-0123456789abcdef0 and nothing else set. */
export const AWS_DEFAULT_CONFIG: AwsProviderConfig = {
  region: undefined,
  amiId: "ami-0123456789abcdef0",
  launchTemplate: undefined,
  supersededByTemplate: [],
  unusedTemplateName: undefined,
  instanceType: "m6a.large",
  instanceTypes: [],
  subnetId: undefined,
  securityGroupIds: [],
  keyName: undefined,
  usePublicIp: false,
  rootVolumeSizeGiB: 30,
  disableCvm: false,
  tags: new Map(),
  endpoint: undefined,
  imdsEndpoint: "http://169.254.169.254",
  maxAttempts: 5,
  credentials: undefined,
};
