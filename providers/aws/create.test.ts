// createVm against the fake EC2 endpoint: the launch request, idempotency by ClientToken, the
// instance-type choice and its capacity fallback, and the deadline.
import { afterEach, describe, expect, it } from "vitest";
import { awsEnv, awsProvider, deadline, NO_RESOURCES, vmRequest } from "../../test/support/aws-fixture.ts";
import {
  FAKE_AMI,
  FAKE_KEY_PAIR,
  FAKE_SG,
  FAKE_SUBNET,
  FakeEc2,
  type FakeEc2Options,
  type FakeInstanceView,
} from "../../test/support/fake-ec2.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { ProviderError } from "../provider.ts";
import type { AwsProvider } from "./provider.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  env: Record<string, string | undefined> = {},
  options: FakeEc2Options = {},
): Promise<{ fake: FakeEc2; p: AwsProvider }> {
  const fake = await FakeEc2.start(options);
  cleanups.push(() => fake.close());
  const p = awsProvider(awsEnv(fake, env));
  cleanups.push(() => p.close());
  return { fake, p };
}

const running = (fake: FakeEc2): FakeInstanceView[] =>
  fake.instances().filter((i) => i.state === "pending" || i.state === "running");

describe("AWS createVm", () => {
  it("launches one instance as the daemon asked and waits until it runs with its address", async () => {
    const { fake, p } = await setup(
      { ROOT_VOLUME_SIZE: "42", SSH_KP_NAME: FAKE_KEY_PAIR, TAGS: "team=infra,cost=7" },
      { bootDelayMs: 300 },
    );
    const req = vmRequest(1);
    const vm = await p.createVm(req, deadline());
    // It polled the pending instance until it ran, rather than returning on RunInstances.
    expect(fake.calls("DescribeInstances").length).toBeGreaterThan(1);

    const [instance] = fake.instances();
    expect(fake.instances()).toHaveLength(1);
    expect(instance).toMatchObject({
      id: vm.id,
      state: "running",
      type: "m6a.large",
      imageId: FAKE_AMI,
      subnetId: FAKE_SUBNET,
      securityGroupIds: [FAKE_SG],
      keyName: FAKE_KEY_PAIR,
      clientToken: req.token,
      userData: req.userData,
      httpTokens: "required",
      amdSevSnp: "enabled",
      rootVolume: { deviceName: "/dev/xvda", sizeGiB: 42, deleteOnTermination: true },
    });
    const tags = {
      Name: req.name,
      "peerpods.sandbox-id": "sandbox-1",
      "peerpods.node": "worker-1",
      "peerpods.cluster": "cluster-a",
      team: "infra",
      cost: "7",
    };
    expect(instance!.tags).toEqual(tags);
    expect(instance!.volumeTags).toEqual(tags);
    // The user-data went over the wire base64-encoded, as EC2 wants it.
    expect(fake.calls("RunInstances")[0]!.params.UserData).toBe(Buffer.from(req.userData).toString("base64"));

    expect(vm).toEqual({
      id: instance!.id,
      name: req.name,
      address: instance!.privateIp,
      owner: req.owner,
      details: { instanceType: "m6a.large", state: "running", zone: "us-east-1a", privateIp: instance!.privateIp },
    });
    // It polled while the instance was pending.
    expect(fake.calls("DescribeInstances").length).toBeGreaterThan(1);
  });

  it("keeps the image's root volume size with ROOT_VOLUME_SIZE=0 (no block device mapping)", async () => {
    const { fake, p } = await setup({ ROOT_VOLUME_SIZE: "0" });
    const vm = await p.createVm(vmRequest(9), deadline());
    const params = fake.calls("RunInstances").at(-1)!.params;
    expect(Object.keys(params).filter((k) => k.startsWith("BlockDeviceMapping"))).toEqual([]);
    expect(fake.instance(vm.id)!.rootVolume).toEqual({
      deviceName: "/dev/xvda",
      sizeGiB: undefined,
      deleteOnTermination: true,
    });
  });

  it("launches plain VMs with DISABLECVM and reaches them by public address with USE_PUBLIC_IP", async () => {
    const { fake, p } = await setup({ DISABLECVM: "true", USE_PUBLIC_IP: "true", PODVM_INSTANCE_TYPE: "t3.small" });
    const vm = await p.createVm(vmRequest(2), deadline());
    const instance = fake.instance(vm.id)!;
    expect(instance.amdSevSnp).toBeUndefined();
    expect(instance.type).toBe("t3.small");
    expect(instance.publicIp).toMatch(/^203\.0\.113\./);
    expect(vm.address).toBe(instance.publicIp);
    expect(fake.calls("RunInstances")[0]!.params).toMatchObject({
      "NetworkInterface.1.AssociatePublicIpAddress": "true",
      "NetworkInterface.1.SubnetId": FAKE_SUBNET,
      "NetworkInterface.1.SecurityGroupId.1": FAKE_SG,
    });
  });

  it("returns the same instance when the same token is used again (ClientToken idempotency)", async () => {
    const { fake, p } = await setup();
    const req = vmRequest(3);
    const first = await p.createVm(req, deadline());
    const again = await p.createVm(req, deadline());
    expect(again.id).toBe(first.id);
    expect(fake.instances()).toHaveLength(1);
    const tokens = fake.calls("RunInstances").map((c) => c.params.ClientToken);
    expect(tokens).toEqual([req.token, req.token]);

    // A new attempt (a new token) makes a new instance.
    const next = await p.createVm({ ...req, token: "token-3-attempt-2" }, deadline());
    expect(next.id).not.toBe(first.id);
  });

  it("finds the instance after a crash between RunInstances and the answer being recorded", async () => {
    const { fake, p } = await setup({}, { bootDelayMs: 400 });
    const req = vmRequest(4);
    // The daemon dies while waiting: the call is abandoned after RunInstances went out.
    const crash = new AbortController();
    const abandoned = p.createVm(req, crash.signal);
    await waitFor(() => fake.calls("RunInstances").length === 1);
    crash.abort(new Error("daemon killed"));
    await expect(abandoned).rejects.toThrow(/deadline passed/);

    // The restarted daemon retries with the recorded token.
    const restarted = awsProvider(awsEnv(fake));
    cleanups.push(() => restarted.close());
    const vm = await restarted.createVm(req, deadline());
    expect(fake.instances().map((i) => i.id)).toEqual([vm.id]);
  });

  it("refuses a token EC2 already spent on an instance now terminated", async () => {
    const { fake, p } = await setup();
    const req = vmRequest(5);
    const vm = await p.createVm(req, deadline());
    await p.deleteVm(vm, deadline());
    const err = await rejection(p.createVm(req, deadline()));
    expect(err.message).toMatch(
      new RegExp(
        `instance ${vm.id} launched earlier .* is (shutting-down|terminated); a new attempt needs a new token`,
      ),
    );
    expect(running(fake)).toEqual([]);
  });

  it("uses the pod's image annotation instead of PODVM_AMI_ID, naming it when it does not exist", async () => {
    const other = { id: "ami-0eeee00000000000e", name: "gpu-image", rootDeviceName: "/dev/sda1" };
    const { fake, p } = await setup(
      {},
      { images: [{ id: FAKE_AMI, name: "podvm", rootDeviceName: "/dev/xvda" }, other] },
    );
    const vm = await p.createVm(vmRequest(6, { resources: { ...NO_RESOURCES, image: other.id } }), deadline());
    expect(fake.instance(vm.id)).toMatchObject({
      imageId: other.id,
      rootVolume: { deviceName: "/dev/sda1", sizeGiB: 30 },
    });

    const err = await rejection(
      p.createVm(vmRequest(7, { resources: { ...NO_RESOURCES, image: "ami-0badbadbadbadbad0" } }), deadline()),
    );
    expect(err.message).toContain(
      "annotation io.katacontainers.config.hypervisor.image=ami-0badbadbadbadbad0: InvalidAMIID.NotFound",
    );
    expect(err.retryable).toBe(false);
  });

  it("refuses user-data EC2 would refuse, before launching anything", async () => {
    const { fake, p } = await setup();
    const err = await rejection(
      p.createVm(vmRequest(8, { userData: `#cloud-config\n${"x".repeat(17000)}` }), deadline()),
    );
    expect(err.message).toMatch(/user-data for podvm-test-8 is 17014 bytes; EC2 accepts at most 16384/);
    expect(fake.calls("RunInstances")).toEqual([]);
  });

  it("stops waiting when the call's deadline passes, and the VM can then be deleted by name", async () => {
    const { fake, p } = await setup();
    fake.stickPending();
    // The deadline, not the instance, ends the wait: the error says so (no wall-clock bounds,
    // which a loaded machine breaks).
    const err = await rejection(p.createVm(vmRequest(9), AbortSignal.timeout(1500)));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(
      /instance i-[0-9a-f]+ did not run in time \(last seen pending\): the call's deadline passed/,
    );
    expect(running(fake)).toHaveLength(1);

    // The daemon's rollback knows only the name (createVm never answered).
    await p.deleteVm({ id: undefined, name: "podvm-test-9", owner: vmRequest(9).owner }, deadline());
    expect(running(fake)).toEqual([]);
  });

  it("reports an instance that dies while starting, with EC2's reason", async () => {
    const { fake, p } = await setup({}, { bootDelayMs: 5000 });
    const creating = p.createVm(vmRequest(10), deadline());
    await waitFor(() => fake.instances().length === 1);
    await p.deleteVm({ id: fake.instances()[0]!.id, name: "podvm-test-10", owner: vmRequest(10).owner }, deadline());
    const err = await rejection(creating);
    expect(err.message).toMatch(/became (shutting-down|terminated) while starting: Client\.UserInitiatedShutdown/);
  });
});

describe("AWS instance-type choice", () => {
  const list = { PODVM_INSTANCE_TYPES: "c6a.large,m6a.large,r6a.large,c6a.xlarge,m6a.xlarge" };
  const sized = (n: number, vcpus: number | undefined, memoryMiB: number | undefined, instanceType?: string) =>
    vmRequest(n, { resources: { ...NO_RESOURCES, vcpus, memoryMiB, instanceType } });

  it("takes the smallest allowed type that fits, the annotation when given, else the default", async () => {
    const { fake, p } = await setup(list);
    const types = async (n: number, vcpus: number | undefined, mem: number | undefined, named?: string) =>
      fake.instance((await p.createVm(sized(n, vcpus, mem, named), deadline())).id)!.type;
    expect(await types(1, 2, 6000)).toBe("m6a.large");
    expect(await types(2, 3, undefined)).toBe("c6a.xlarge");
    expect(await types(3, 2, 16384)).toBe("r6a.large");
    expect(await types(4, 4, 9000)).toBe("m6a.xlarge");
    expect(await types(5, undefined, undefined)).toBe("m6a.large");
    expect(await types(6, 8, 1024, "c6a.large")).toBe("c6a.large");
    // Sizes were asked once for the whole list.
    expect(fake.calls("DescribeInstanceTypes")).toHaveLength(1);
  });

  it("reads GPU counts from DescribeInstanceTypes and gives a GPU pod a GPU type", async () => {
    const { fake, p } = await setup({ PODVM_INSTANCE_TYPES: "t3.medium,m6a.xlarge,g5.xlarge", DISABLECVM: "true" });
    const vm = await p.createVm(vmRequest(1, { resources: { ...NO_RESOURCES, vcpus: 2, gpus: 1 } }), deadline());
    expect(fake.instance(vm.id)!.type).toBe("g5.xlarge");
    const plain = await p.createVm(vmRequest(2, { resources: { ...NO_RESOURCES, vcpus: 4 } }), deadline());
    expect(fake.instance(plain.id)!.type).toBe("m6a.xlarge");
  });

  it("fails naming the annotation when it is not allowed, and the sizes when nothing fits", async () => {
    const { fake, p } = await setup(list);
    const notAllowed = await rejection(p.createVm(sized(1, undefined, undefined, "g5.xlarge"), deadline()));
    expect(notAllowed.message).toMatch(
      /instance type "g5\.xlarge" \(machine_type annotation\) is not allowed: PODVM_INSTANCE_TYPES lists c6a\.large/,
    );
    const tooBig = await rejection(p.createVm(sized(2, 16, undefined), deadline()));
    expect(tooBig.message).toMatch(/no type in PODVM_INSTANCE_TYPES .* has at least 16 vCPUs/);
    expect(fake.calls("RunInstances")).toEqual([]);
  });

  it("falls back to the next fitting type when EC2 has no capacity for the smallest", async () => {
    const { fake, p } = await setup({ ...list, AWS_MAX_ATTEMPTS: "2" });
    fake.setCapacity("m6a.large", false);
    const vm = await p.createVm(sized(1, 2, 6000), deadline());
    expect(fake.instances().map((i) => i.type)).toEqual(["r6a.large"]);
    expect(vm.details?.instanceType).toBe("r6a.large");
    const launches = fake.calls("RunInstances").map((c) => `${c.params.InstanceType} ${c.status}`);
    // The SDK retries the 500 once (AWS_MAX_ATTEMPTS=2), then the next type is tried.
    expect(launches).toEqual(["m6a.large 500", "m6a.large 500", "r6a.large 200"]);
    // Each type launches under its own token (EC2 refuses a token reused with other parameters).
    const tokens = new Set(fake.calls("RunInstances").map((c) => c.params.ClientToken));
    expect(tokens.size).toBe(2);
  });

  it("after a crash during a fallback launch, finds that instance instead of launching the first choice again", async () => {
    const { fake, p } = await setup({ ...list, AWS_MAX_ATTEMPTS: "1" }, { bootDelayMs: 400 });
    fake.setCapacity("m6a.large", false);
    const req = sized(1, 2, 6000);
    const crash = new AbortController();
    const abandoned = p.createVm(req, crash.signal);
    await waitFor(() => fake.instances().length === 1);
    crash.abort(new Error("daemon killed"));
    await expect(abandoned).rejects.toThrow(ProviderError);

    fake.setCapacity("m6a.large", true); // capacity is back by the time the daemon restarts
    const vm = await p.createVm(req, deadline());
    expect(fake.instances().map((i) => `${i.id} ${i.type}`)).toEqual([`${vm.id} r6a.large`]);
  });

  it("does not swap a type the pod named, and says capacity is the problem", async () => {
    const { fake, p } = await setup({ ...list, AWS_MAX_ATTEMPTS: "1" });
    fake.setCapacity("c6a.large", false);
    const err = await rejection(p.createVm(sized(1, undefined, undefined, "c6a.large"), deadline()));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(
      /EC2 has no capacity for ec2:RunInstances: InsufficientInstanceCapacity: We currently do not have sufficient c6a\.large capacity/,
    );
    expect(fake.instances()).toEqual([]);
  });

  it("reports no capacity when every fitting type is out", async () => {
    const { fake, p } = await setup({ ...list, AWS_MAX_ATTEMPTS: "1" });
    for (const t of ["c6a.xlarge", "m6a.xlarge"]) fake.setCapacity(t, false);
    const err = await rejection(p.createVm(sized(1, 4, undefined), deadline()));
    expect(err.message).toContain("m6a.xlarge capacity");
    expect(fake.calls("RunInstances").map((c) => c.params.InstanceType)).toEqual(["c6a.xlarge", "m6a.xlarge"]);
    expect(fake.instances()).toEqual([]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
