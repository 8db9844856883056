// USE_PODVM_LAUNCHTEMPLATE against the fake EC2 endpoint: the launch template (made with the
// SDK's CreateLaunchTemplate) supplies image, type, network, key pair and CPU options, as
// upstream; the daemon adds user-data, its tags, IMDSv2 and its ClientToken. A missing template
// or a template naming a missing image is refused, naming PODVM_LAUNCHTEMPLATE_NAME.
import type { RequestLaunchTemplateData } from "@aws-sdk/client-ec2";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidConfigError } from "../../src/config/index.ts";
import {
  awsEnv,
  awsProvider,
  createLaunchTemplate as createTemplate,
  deadline,
  NO_RESOURCES,
  vmRequest,
} from "../../test/support/aws-fixture.ts";
import { FAKE_AMI, FAKE_KEY_PAIR, FAKE_SG, FAKE_SUBNET, FakeEc2 } from "../../test/support/fake-ec2.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { awsProviderConfig } from "./config.ts";
import type { AwsProvider } from "./provider.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TEMPLATE_DATA: RequestLaunchTemplateData = {
  ImageId: FAKE_AMI,
  InstanceType: "c6a.large",
  KeyName: FAKE_KEY_PAIR,
  NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: FAKE_SUBNET, Groups: [FAKE_SG] }],
  CpuOptions: { AmdSevSnp: "enabled" },
  BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 12 } }],
};

/** The settings of a template-mode worker: no AMI, subnet or security groups of its own. */
function templateEnv(fake: FakeEc2, extra: Record<string, string | undefined> = {}) {
  return awsEnv(fake, {
    USE_PODVM_LAUNCHTEMPLATE: "true",
    PODVM_LAUNCHTEMPLATE_NAME: "kata-podvm",
    PODVM_AMI_ID: undefined,
    AWS_SUBNET_ID: undefined,
    AWS_SG_IDS: undefined,
    ...extra,
  });
}

async function setup(env: (fake: FakeEc2) => Record<string, string | undefined>): Promise<{
  fake: FakeEc2;
  p: AwsProvider;
}> {
  const fake = await FakeEc2.start();
  cleanups.push(() => fake.close());
  const p = awsProvider(env(fake));
  cleanups.push(() => p.close());
  return { fake, p };
}

describe("AWS launch templates (USE_PODVM_LAUNCHTEMPLATE)", () => {
  it("launches from the template: its image, type, network, key and CPU options; our user-data, tags and IMDSv2", async () => {
    const { fake, p } = await setup((f) => templateEnv(f, { TAGS: "team=infra" }));
    await createTemplate(fake, "kata-podvm", TEMPLATE_DATA);
    await p.check(deadline());

    const req = vmRequest(1);
    const vm = await p.createVm(req, deadline());
    const instance = fake.instance(vm.id)!;
    expect(instance).toMatchObject({
      launchTemplate: "kata-podvm",
      state: "running",
      type: "c6a.large",
      imageId: FAKE_AMI,
      subnetId: FAKE_SUBNET,
      securityGroupIds: [FAKE_SG],
      keyName: FAKE_KEY_PAIR,
      amdSevSnp: "enabled",
      httpTokens: "required",
      userData: req.userData,
      clientToken: req.token,
      // No PODVM_AMI_ID to find the root device by: the template's volume stays (ROOT_VOLUME_SIZE's 30 is not applied).
      rootVolume: { deviceName: "/dev/xvda", sizeGiB: 12, deleteOnTermination: true },
    });
    expect(instance.tags).toMatchObject({
      Name: req.name,
      "peerpods.sandbox-id": "sandbox-1",
      "peerpods.node": "worker-1",
      "peerpods.cluster": "cluster-a",
      team: "infra",
      "aws:ec2launchtemplate:id": expect.stringMatching(/^lt-/),
    });
    // The request itself names only the template for what the template decides.
    const params = fake.calls("RunInstances").at(-1)!.params;
    expect(params["LaunchTemplate.LaunchTemplateName"]).toBe("kata-podvm");
    for (const key of ["ImageId", "InstanceType", "SubnetId", "SecurityGroupId.1", "KeyName", "CpuOptions.AmdSevSnp"])
      expect(params[key]).toBeUndefined();
    expect(vm).toMatchObject({ id: instance.id, address: instance.privateIp, owner: req.owner });

    // The daemon finds it by its tags as any other VM, and a retried create finds the same instance.
    expect((await p.listOwnedVms({ node: "worker-1", cluster: "cluster-a" }, deadline())).map((v) => v.id)).toEqual([
      vm.id,
    ]);
    expect((await p.createVm(req, deadline())).id).toBe(vm.id);
    expect(fake.instances()).toHaveLength(1);
  });

  it("sizes the root volume as upstream when PODVM_AMI_ID names the image and ROOT_VOLUME_SIZE is set", async () => {
    const { fake, p } = await setup((f) => templateEnv(f, { PODVM_AMI_ID: FAKE_AMI, ROOT_VOLUME_SIZE: "50" }));
    await createTemplate(fake, "kata-podvm", TEMPLATE_DATA);
    await p.check(deadline());
    const vm = await p.createVm(vmRequest(2), deadline());
    expect(fake.instance(vm.id)!.rootVolume).toEqual({
      deviceName: "/dev/xvda",
      sizeGiB: 50,
      deleteOnTermination: true,
    });
  });

  it("does not use a pod's image or machine type annotation: the template decides (as upstream)", async () => {
    const { fake, p } = await setup((f) => templateEnv(f));
    await createTemplate(fake, "kata-podvm", TEMPLATE_DATA);
    const vm = await p.createVm(
      vmRequest(3, { resources: { ...NO_RESOURCES, instanceType: "m6a.2xlarge", image: "ami-0f00d000000000099" } }),
      deadline(),
    );
    expect(fake.instance(vm.id)).toMatchObject({ type: "c6a.large", imageId: FAKE_AMI });
  });

  it("refuses a template that does not exist, at start-up and at launch, naming PODVM_LAUNCHTEMPLATE_NAME", async () => {
    const { fake, p } = await setup((f) => templateEnv(f, { PODVM_LAUNCHTEMPLATE_NAME: "no-such-template" }));
    await createTemplate(fake, "kata-podvm", TEMPLATE_DATA);
    const atCheck = await rejection(p.check(deadline()));
    expect(atCheck.message).toMatch(
      /PODVM_LAUNCHTEMPLATE_NAME=no-such-template: InvalidLaunchTemplateName\.NotFoundException: At least one of the launch templates specified in the request does not exist\. \(ec2:DescribeLaunchTemplates\)/,
    );
    expect(atCheck.retryable).toBe(false);

    const atLaunch = await rejection(p.createVm(vmRequest(4), deadline()));
    expect(atLaunch.message).toBe(
      "PODVM_LAUNCHTEMPLATE_NAME=no-such-template: InvalidLaunchTemplateName.NotFoundException: The specified launch template, with template name no-such-template, does not exist. (ec2:RunInstances)",
    );
    expect(fake.instances()).toEqual([]);
  });

  it("refuses at start-up a template whose image does not exist (the dry-run launch goes through the template)", async () => {
    const { fake, p } = await setup((f) => templateEnv(f));
    await createTemplate(fake, "kata-podvm", { ...TEMPLATE_DATA, ImageId: "ami-0f00d0000000000ff" });
    const err = await rejection(p.check(deadline()));
    expect(err.message).toMatch(
      /PODVM_LAUNCHTEMPLATE_NAME=kata-podvm: InvalidAMIID\.NotFound: .*ami-0f00d0000000000ff/,
    );
    expect(fake.calls("RunInstances").map((c) => c.params.DryRun)).toEqual(["true"]);
    expect(fake.instances()).toEqual([]);
  });

  it("warns at start-up about a template name of its own while USE_PODVM_LAUNCHTEMPLATE is off, and launches from the AMI", async () => {
    const fake = await FakeEc2.start();
    cleanups.push(() => fake.close());
    const logs: { level: number; msg: string }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const p = awsProvider(awsEnv(fake, { PODVM_LAUNCHTEMPLATE_NAME: "kata-podvm" }), { logger });
    cleanups.push(() => p.close());
    await p.check(deadline());
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^PODVM_LAUNCHTEMPLATE_NAME=kata-podvm is not used: USE_PODVM_LAUNCHTEMPLATE is false/),
    ]);
    const vm = await p.createVm(vmRequest(5), deadline());
    expect(fake.instance(vm.id)).toMatchObject({ launchTemplate: undefined, imageId: FAKE_AMI });
  });

  it("keeps the endpoint's launch templates as EC2 does: a second template of the same name is refused", async () => {
    const fake = await FakeEc2.start();
    cleanups.push(() => fake.close());
    await createTemplate(fake, "kata-podvm", TEMPLATE_DATA);
    await expect(createTemplate(fake, "kata-podvm", TEMPLATE_DATA)).rejects.toMatchObject({
      name: "InvalidLaunchTemplateName.AlreadyExistsException",
    });
  });
});

describe("AWS launch template settings", () => {
  const fakeLike = { region: "us-east-1", endpoint: "http://127.0.0.1:1" } as FakeEc2;

  it("needs no PODVM_AMI_ID, subnet or security groups with a template, and names what the template supersedes", () => {
    const c = awsProviderConfig(
      templateEnv(fakeLike, { AWS_SUBNET_ID: FAKE_SUBNET, SSH_KP_NAME: "k", DISABLECVM: "true" }),
    );
    expect(c).toMatchObject({ launchTemplate: "kata-podvm", amiId: undefined });
    expect(c.supersededByTemplate).toEqual(["AWS_SUBNET_ID", "SSH_KP_NAME", "DISABLECVM"]);
    // Upstream's default template name.
    expect(awsProviderConfig(templateEnv(fakeLike, { PODVM_LAUNCHTEMPLATE_NAME: undefined })).launchTemplate).toBe(
      "kata",
    );
    // Off by default: the name alone launches nothing from a template (as upstream's current
    // chart, which renders the name "kata" beside USE_PODVM_LAUNCHTEMPLATE="false")...
    const nameOnly = awsProviderConfig(awsEnv(fakeLike, { PODVM_LAUNCHTEMPLATE_NAME: "x-y-z" }));
    expect(nameOnly.launchTemplate).toBeUndefined();
    // ...but a name of its own is flagged, since older upstream images used it whenever it was set.
    expect(nameOnly.unusedTemplateName).toBe("x-y-z");
    expect(
      awsProviderConfig(awsEnv(fakeLike, { PODVM_LAUNCHTEMPLATE_NAME: "kata" })).unusedTemplateName,
    ).toBeUndefined();
  });

  it("still needs PODVM_AMI_ID without a template, and refuses a malformed template name", () => {
    expect(() => awsProviderConfig(awsEnv(fakeLike, { PODVM_AMI_ID: undefined }))).toThrow(
      /PODVM_AMI_ID.*USE_PODVM_LAUNCHTEMPLATE=true/,
    );
    const bad = () => awsProviderConfig(templateEnv(fakeLike, { PODVM_LAUNCHTEMPLATE_NAME: "a b" }));
    expect(bad).toThrow(InvalidConfigError);
    expect(bad).toThrow(/PODVM_LAUNCHTEMPLATE_NAME="a b".*launch template name/);
  });
});
