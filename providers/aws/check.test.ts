// Start-up checks and placement, against the fake EC2 endpoint (and a fake metadata service).
import { afterEach, describe, expect, it } from "vitest";
import { InvalidConfigError } from "../../src/config/index.ts";
import { awsEnv, awsProvider, deadline, vmRequest } from "../../test/support/aws-fixture.ts";
import { FAKE_SG, FAKE_VPC, FakeEc2 } from "../../test/support/fake-ec2.ts";
import { FakeImds } from "../../test/support/fake-imds.ts";
import { ProviderError } from "../provider.ts";
import type { AwsProvider } from "./provider.ts";

/** The worker's settings with region, subnet and security groups left to the metadata service at `endpoint`. */
function metadataEnv(fake: FakeEc2, endpoint: string, set: Record<string, string> = {}) {
  return awsEnv(fake, {
    AWS_REGION: undefined,
    AWS_SUBNET_ID: undefined,
    AWS_SG_IDS: undefined,
    AWS_EC2_METADATA_DISABLED: undefined,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint,
    ...set,
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startFake(options: Parameters<typeof FakeEc2.start>[0] = {}): Promise<FakeEc2> {
  const fake = await FakeEc2.start(options);
  cleanups.push(() => fake.close());
  return fake;
}

function provider(env: Record<string, string | undefined>): AwsProvider {
  const p = awsProvider(env);
  cleanups.push(() => p.close());
  return p;
}

async function checkFailure(p: AwsProvider): Promise<Error> {
  try {
    await p.check(deadline());
  } catch (err) {
    return err as Error;
  }
  throw new Error("check unexpectedly passed");
}

describe("AWS provider start-up check", () => {
  it("passes with real resources, after asking for each of them and dry-running a launch", async () => {
    const fake = await startFake();
    await provider(awsEnv(fake, { PODVM_INSTANCE_TYPES: "c6a.large,m6a.xlarge" })).check(deadline());
    expect(
      fake
        .calls()
        .map((c) => `${c.action} ${c.status}`)
        .sort(),
    ).toEqual(
      [
        "DescribeImages 200",
        "DescribeInstanceTypes 200",
        "DescribeInstances 200",
        "DescribeSecurityGroups 200",
        "DescribeSubnets 200",
        "RunInstances 412",
      ].sort(),
    );
    const dryRun = fake.calls("RunInstances")[0]!.params;
    expect(dryRun.DryRun).toBe("true");
    expect(fake.calls("DescribeInstanceTypes")[0]!.params).toMatchObject({
      "InstanceType.1": "c6a.large",
      "InstanceType.2": "m6a.xlarge",
      "InstanceType.3": "m6a.large",
    });
    expect(fake.instances()).toEqual([]);
  });

  it("names an unknown subnet, AMI and security group, all at once", async () => {
    const fake = await startFake();
    const err = await checkFailure(
      provider(
        awsEnv(fake, {
          AWS_SUBNET_ID: "subnet-0bad0000000000001",
          PODVM_AMI_ID: "ami-0bad0000000000001",
          AWS_SG_IDS: `${FAKE_SG},sg-0bad0000000000001`,
        }),
      ),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(false);
    expect(err.message).toContain(
      "AWS_SUBNET_ID=subnet-0bad0000000000001: InvalidSubnetID.NotFound: The subnet ID 'subnet-0bad0000000000001' does not exist",
    );
    expect(err.message).toContain("PODVM_AMI_ID=ami-0bad0000000000001: InvalidAMIID.NotFound");
    expect(err.message).toContain(
      `AWS_SG_IDS=${FAKE_SG},sg-0bad0000000000001: InvalidGroup.NotFound: The security group 'sg-0bad0000000000001' does not exist`,
    );
    // No launch is tried while the settings it would use are wrong.
    expect(fake.calls("RunInstances")).toEqual([]);
  });

  it("names an image that is not available", async () => {
    const fake = await startFake({
      images: [{ id: "ami-0aaaa00000000000a", name: "broken", rootDeviceName: "/dev/xvda", state: "failed" }],
    });
    const err = await checkFailure(provider(awsEnv(fake, { PODVM_AMI_ID: "ami-0aaaa00000000000a" })));
    expect(err.message).toContain("PODVM_AMI_ID=ami-0aaaa00000000000a: AMI is failed, not available");
  });

  it("names unknown instance types and types that cannot run confidential VMs", async () => {
    const fake = await startFake();
    const unknown = await checkFailure(provider(awsEnv(fake, { PODVM_INSTANCE_TYPES: "m6a.large,m9z.huge" })));
    expect(unknown.message).toContain(
      "PODVM_INSTANCE_TYPES/PODVM_INSTANCE_TYPE=m6a.large,m9z.huge: InvalidInstanceType: The following supplied instance types do not exist: [m9z.huge]",
    );

    const plain = await checkFailure(provider(awsEnv(fake, { PODVM_INSTANCE_TYPES: "t3.small,m6a.large" })));
    expect(plain.message).toMatch(/t3\.small cannot run AMD SEV-SNP confidential VMs.*DISABLECVM=true/);
    await provider(
      awsEnv(fake, { PODVM_INSTANCE_TYPES: "t3.small", PODVM_INSTANCE_TYPE: "t3.small", DISABLECVM: "true" }),
    ).check(deadline());
  });

  it("names the missing permission when the launch dry run is refused", async () => {
    const fake = await startFake();
    fake.inject("RunInstances", { kind: "unauthorized" });
    const err = await checkFailure(provider(awsEnv(fake)));
    expect((err as ProviderError).retryable).toBe(false);
    expect(err.message).toMatch(/may not call ec2:RunInstances: grant it .*UnauthorizedOperation/);
  });

  it("names an unknown key pair from the dry run", async () => {
    const fake = await startFake();
    const err = await checkFailure(provider(awsEnv(fake, { SSH_KP_NAME: "nobody" })));
    expect(err.message).toContain("SSH_KP_NAME=nobody: InvalidKeyPair.NotFound: The key pair 'nobody' does not exist");
  });

  it("is retryable when EC2 stays unavailable", async () => {
    const fake = await startFake();
    fake.inject("*", { kind: "internal", status: 503 }, 1000);
    const err = await checkFailure(provider(awsEnv(fake, { AWS_MAX_ATTEMPTS: "2" })));
    expect((err as ProviderError).retryable).toBe(true);
    expect(err.message).toContain("Unavailable");
  });
});

describe("AWS placement from the worker's instance metadata (IMDSv2)", () => {
  const otherSubnet = {
    id: "subnet-0cccc00000000000c",
    vpcId: FAKE_VPC,
    zone: "eu-west-3a",
    cidrPrefix: "10.9.9",
    mapPublicIp: false,
  };
  const otherGroup = { id: "sg-0cccc00000000000c", name: "workers", vpcId: FAKE_VPC };

  it("takes unset region, subnet and security groups from the metadata service", async () => {
    const fake = await startFake({ region: "eu-west-3", subnets: [otherSubnet], securityGroups: [otherGroup] });
    const imds = await FakeImds.start({
      region: "eu-west-3",
      mac: "0e:12:34:56:78:9a",
      subnetId: otherSubnet.id,
      securityGroupIds: [otherGroup.id],
    });
    cleanups.push(() => imds.close());
    const p = provider(metadataEnv(fake, imds.endpoint));
    await p.check(deadline());
    const vm = await p.createVm(vmRequest(1), deadline());
    expect(fake.instance(vm.id)).toMatchObject({ subnetId: otherSubnet.id, securityGroupIds: [otherGroup.id] });
    expect(vm.address).toMatch(/^10\.9\.9\./);
    // IMDSv2: a token first, then reads carrying it.
    expect(imds.requests[0]).toBe("PUT /latest/api/token");
    expect(imds.requests).toContain("GET /latest/meta-data/network/interfaces/macs/0e:12:34:56:78:9a/subnet-id");
  });

  it("keeps what is set and fills in only the rest", async () => {
    const fake = await startFake({ region: "eu-west-3", subnets: [otherSubnet], securityGroups: [otherGroup] });
    const imds = await FakeImds.start({
      region: "eu-west-3",
      mac: "0e:00:00:00:00:01",
      subnetId: "subnet-0dddd00000000000d",
      securityGroupIds: ["sg-0dddd00000000000d"],
    });
    cleanups.push(() => imds.close());
    const p = provider(metadataEnv(fake, imds.endpoint, { AWS_SUBNET_ID: otherSubnet.id }));
    const err = await checkFailure(p);
    // The metadata's security group does not exist here: the message says where it came from.
    expect(err.message).toContain(
      "AWS_SG_IDS (from the worker's metadata)=sg-0dddd00000000000d: InvalidGroup.NotFound",
    );
    expect(err.message).not.toContain("AWS_SUBNET_ID");
  });

  it("fails start-up naming every unset variable when the metadata service does not answer", async () => {
    const fake = await startFake();
    const p = provider(metadataEnv(fake, "http://127.0.0.1:9"));
    const err = await checkFailure(p);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as InvalidConfigError).errors.map((e) => ("variable" in e ? e.variable : ""))).toEqual([
      "AWS_REGION",
      "AWS_SUBNET_ID",
      "AWS_SG_IDS",
    ]);
    expect(err.message).toMatch(
      /AWS_REGION: not set and not learnable from the worker's instance metadata \(instance metadata service at http:\/\/127\.0\.0\.1:9 did not answer/,
    );
    expect(fake.calls()).toEqual([]);
  });

  it("does not ask the metadata service when it is disabled", async () => {
    const fake = await startFake();
    const err = await checkFailure(provider(awsEnv(fake, { AWS_SUBNET_ID: undefined })));
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect(err.message).toContain(
      "AWS_SUBNET_ID: not set and not learnable from the worker's instance metadata (the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED))",
    );
  });

  it("signs for the region it learned: a wrong region would be refused by EC2", async () => {
    const fake = await startFake({ region: "eu-west-3", subnets: [otherSubnet], securityGroups: [otherGroup] });
    const err = await checkFailure(
      provider(awsEnv(fake, { AWS_REGION: "us-west-2", AWS_SUBNET_ID: otherSubnet.id, AWS_SG_IDS: otherGroup.id })),
    );
    expect(err.message).toContain("AuthFailure");
    expect(fake.calls().every((c) => c.status === 401)).toBe(true);
  });
});
