// An AWS provider wired to a fake EC2 endpoint: the settings a worker would have, fast polls,
// small pages (so pagination is exercised), metadata service off unless a test turns it on.
import { CreateLaunchTemplateCommand, EC2Client, type RequestLaunchTemplateData } from "@aws-sdk/client-ec2";
import pino from "pino";
import { awsProviderConfig } from "../../providers/aws/config.ts";
import { AwsProvider, type AwsProviderOptions } from "../../providers/aws/provider.ts";
import { type CreateVmRequest, NO_RESOURCES } from "../../providers/provider.ts";
import { FAKE_AMI, FAKE_SG, FAKE_SUBNET, type FakeEc2 } from "./fake-ec2.ts";

export { NO_RESOURCES };

export function awsEnv(
  fake: FakeEc2,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    AWS_REGION: fake.region,
    PODVM_AMI_ID: FAKE_AMI,
    AWS_SUBNET_ID: FAKE_SUBNET,
    AWS_SG_IDS: FAKE_SG,
    AWS_ENDPOINT_URL_EC2: fake.endpoint,
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    AWS_EC2_METADATA_DISABLED: "true",
    ...extra,
  };
}

export function awsProvider(
  env: Record<string, string | undefined>,
  options: Partial<AwsProviderOptions> = {},
): AwsProvider {
  return new AwsProvider(awsProviderConfig(env), {
    logger: pino({ level: "silent" }),
    pollInitialMs: 10,
    pollMaxMs: 40,
    pageSize: 5,
    imdsTimeoutMs: 500,
    ...options,
  });
}

export function vmRequest(n: number, overrides: Partial<CreateVmRequest> = {}): CreateVmRequest {
  return {
    name: `podvm-test-${n}`,
    token: `token-${n}-${"x".repeat(20)}`,
    owner: { sandboxId: `sandbox-${n}`, node: "worker-1", cluster: "cluster-a" },
    resources: NO_RESOURCES,
    userData: `#cloud-config\nwrite_files: []\n# vm ${n}\n`,
    ...overrides,
  };
}

/** A signal that ends after `ms`, like the deadline a StartVM call carries. */
export function deadline(ms = 20_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

/** Makes a launch template on the fake endpoint through the SDK, as an operator would. */
export async function createLaunchTemplate(
  fake: FakeEc2,
  name: string,
  data: RequestLaunchTemplateData,
): Promise<void> {
  const client = new EC2Client({
    region: fake.region,
    endpoint: fake.endpoint,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
  try {
    await client.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: data }));
  } finally {
    client.destroy();
  }
}
